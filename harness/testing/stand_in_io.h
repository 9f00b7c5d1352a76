// Test support: the libc-only helpers the stand-in targets (fpconform_misbehave,
// fpconform_hostile) share. Header-only, so each stand-in stays one libc-only program.
#ifndef FPCONFORM_HARNESS_TESTING_STAND_IN_IO_H_
#define FPCONFORM_HARNESS_TESTING_STAND_IN_IO_H_

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

namespace fpconform::stand_in {

// kUsageError: the exit status of a stand-in given arguments it does not know.
constexpr int kUsageError = 64;
// kLongSleepMs: how long a stand-in "sleeps forever" (the harness kills it long before).
constexpr long kLongSleepMs = 600 * 1000;

// SleepMs sleeps `ms` milliseconds, resuming after signals.
inline void SleepMs(long ms) {
  timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// WriteAll writes `size` bytes to `fd`, resuming after signals; false on an error.
inline bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// WriteText writes a NUL-terminated text to `fd`.
inline bool WriteText(int fd, const char* text) { return WriteAll(fd, text, strlen(text)); }

// WritePidFile writes `pid` to `path` through a temporary and a rename, so that a reader
// never sees a partial number.
inline bool WritePidFile(const char* path, pid_t pid) {
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return false;
  }
  char text[32];
  int len = snprintf(text, sizeof(text), "%d\n", static_cast<int>(pid));
  bool ok = WriteAll(fd, text, static_cast<size_t>(len));
  close(fd);
  return ok && rename(tmp, path) == 0;
}

// ForkSleeper forks a child that sleeps (after setsid() when `new_session`), waits until
// the child runs and writes its pid to `pid_file`. Returns 0, or the stand-in's status for
// the step that failed: 70 pipe, 71 fork, 72 the pid file.
inline int ForkSleeper(const char* pid_file, bool new_session) {
  int sync[2];
  if (pipe(sync) != 0) {
    return 70;
  }
  pid_t child = fork();
  if (child < 0) {
    return 71;
  }
  if (child == 0) {
    close(sync[0]);
    if (new_session) {
      setsid();
    }
    WriteAll(sync[1], "x", 1);
    close(sync[1]);
    SleepMs(kLongSleepMs);
    _exit(0);
  }
  close(sync[1]);
  char byte;
  while (read(sync[0], &byte, 1) < 0 && errno == EINTR) {
  }
  close(sync[0]);
  return WritePidFile(pid_file, child) ? 0 : 72;
}

}  // namespace fpconform::stand_in

#endif  // FPCONFORM_HARNESS_TESTING_STAND_IN_IO_H_
