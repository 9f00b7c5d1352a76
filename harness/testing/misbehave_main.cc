// fpconform_misbehave: a stand-in target for the process-control tests. The first argument
// picks a behaviour:
//
//   exit N                   exit with status N
//   sleep MS                 sleep MS milliseconds, then exit 0
//   segv                     die of SIGSEGV
//   abort                    die of SIGABRT (abort())
//   fork-grandchild FILE     fork a child that sleeps in the same process group, write its
//                            pid to FILE, print "ready", then sleep too
//   setsid-grandchild FILE   fork a child that leaves the group with setsid() and sleeps
//                            holding stdout and stderr; write its pid to FILE, print "ready"
//                            and exit 0
//   ignore-sigterm           ignore SIGTERM, print "ready", sleep
//   spew BYTES               write BYTES bytes to stdout and BYTES to stderr, interleaved in
//                            64 KiB chunks, then exit 0
//   sanitizer                print a fake AddressSanitizer report header on stderr, exit 1
//   sanitizer-split          the same header in two writes, the second only once the harness
//                            has read the first (the pipe is empty again), then exit 1
//   print-env NAME           print NAME's value, or "<unset>"
//   pwd                      print the working directory
//   args ARG...              print each argument on its own line
//   fds                      print the open descriptors above 2, one per line
//   signals                  print the SigBlk and SigIgn lines of /proc/self/status
//   pgid                     print "leader" when the process leads its own process group
//   say TEXT STATUS          print TEXT and a line break on stderr, exit with STATUS
//   line PIECE COUNT STATUS  print PIECE COUNT times on stdout as one line, exit with STATUS
//
// It uses libc only and is built without sanitizers, like a vendor binary. Usage errors
// exit 64.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr int kUsageError = 64;
constexpr long kLongSleepMs = 600 * 1000;

void SleepMs(long ms) {
  timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool WriteAll(int fd, const char* data, size_t size) {
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

bool WriteText(int fd, const char* text) { return WriteAll(fd, text, strlen(text)); }

// WritePidFile writes `pid` to `path` through a temporary and a rename, so that a reader
// never sees a partial number.
bool WritePidFile(const char* path, pid_t pid) {
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

int ForkGrandchild(const char* pid_file, bool leave_group) {
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
    if (leave_group) {
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
  if (!WritePidFile(pid_file, child)) {
    return 72;
  }
  WriteText(1, "ready\n");
  if (leave_group) {
    return 0;
  }
  SleepMs(kLongSleepMs);
  return 0;
}

int Spew(long long bytes) {
  static char chunk[64 * 1024];
  memset(chunk, 'x', sizeof(chunk));
  long long left = bytes;
  while (left > 0) {
    size_t n = left < static_cast<long long>(sizeof(chunk)) ? static_cast<size_t>(left)
                                                            : sizeof(chunk);
    if (!WriteAll(1, chunk, n) || !WriteAll(2, chunk, n)) {
      return 74;
    }
    left -= static_cast<long long>(n);
  }
  return 0;
}

// Line writes `piece` `count` times as one line on stdout, in writes of up to 64 KiB.
int Line(const char* piece, long count, int status) {
  static char buffer[64 * 1024];
  size_t len = strlen(piece);
  if (len == 0 || len > sizeof(buffer)) {
    return kUsageError;
  }
  size_t used = 0;
  for (long i = 0; i < count; ++i) {
    if (used + len > sizeof(buffer)) {
      if (!WriteAll(1, buffer, used)) {
        return 74;
      }
      used = 0;
    }
    memcpy(buffer + used, piece, len);
    used += len;
  }
  if (!WriteAll(1, buffer, used) || !WriteText(1, "\n")) {
    return 74;
  }
  return status;
}

int SanitizerSplit() {
  WriteText(2, "==1==ERROR: Address");
  // Wait (bounded) until the harness has read the first part, so that the two parts reach
  // it in different reads.
  for (int i = 0; i < 10000; ++i) {
    int pending = 0;
    if (ioctl(2, FIONREAD, &pending) != 0 || pending == 0) {
      break;
    }
    SleepMs(1);
  }
  WriteText(2, "Sanitizer: heap-use-after-free on address 0x602000000010\n");
  return 1;
}

int PrintFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 73;
  }
  int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    int fd = atoi(entry->d_name);
    if (fd > 2 && fd != own) {
      printf("%d\n", fd);
    }
  }
  closedir(dir);
  return 0;
}

int PrintSignals() {
  FILE* status = fopen("/proc/self/status", "r");
  if (status == nullptr) {
    return 73;
  }
  char line[512];
  while (fgets(line, sizeof(line), status) != nullptr) {
    if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0) {
      fputs(line, stdout);
    }
  }
  fclose(status);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s BEHAVIOUR [ARG...]\n", argv[0]);
    return kUsageError;
  }
  const char* what = argv[1];
  const char* arg = argc > 2 ? argv[2] : nullptr;
  if (strcmp(what, "exit") == 0 && arg != nullptr) {
    return atoi(arg);
  }
  if (strcmp(what, "sleep") == 0 && arg != nullptr) {
    SleepMs(atol(arg));
    return 0;
  }
  if (strcmp(what, "segv") == 0) {
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 75;
  }
  if (strcmp(what, "abort") == 0) {
    abort();
  }
  if (strcmp(what, "fork-grandchild") == 0 && arg != nullptr) {
    return ForkGrandchild(arg, false);
  }
  if (strcmp(what, "setsid-grandchild") == 0 && arg != nullptr) {
    return ForkGrandchild(arg, true);
  }
  if (strcmp(what, "ignore-sigterm") == 0) {
    signal(SIGTERM, SIG_IGN);
    WriteText(1, "ready\n");
    SleepMs(kLongSleepMs);
    return 0;
  }
  if (strcmp(what, "spew") == 0 && arg != nullptr) {
    return Spew(atoll(arg));
  }
  if (strcmp(what, "sanitizer") == 0) {
    WriteText(2,
              "==1==ERROR: AddressSanitizer: heap-use-after-free on address "
              "0x602000000010\n");
    return 1;
  }
  if (strcmp(what, "sanitizer-split") == 0) {
    return SanitizerSplit();
  }
  if (strcmp(what, "print-env") == 0 && arg != nullptr) {
    const char* value = getenv(arg);
    printf("%s\n", value != nullptr ? value : "<unset>");
    return 0;
  }
  if (strcmp(what, "pwd") == 0) {
    char dir[4096];
    if (getcwd(dir, sizeof(dir)) == nullptr) {
      return 73;
    }
    printf("%s\n", dir);
    return 0;
  }
  if (strcmp(what, "args") == 0) {
    for (int i = 2; i < argc; ++i) {
      printf("%s\n", argv[i]);
    }
    return 0;
  }
  if (strcmp(what, "fds") == 0) {
    return PrintFds();
  }
  if (strcmp(what, "signals") == 0) {
    return PrintSignals();
  }
  if (strcmp(what, "pgid") == 0) {
    printf("%s\n", getpgrp() == getpid() ? "leader" : "member");
    return 0;
  }
  if (strcmp(what, "say") == 0 && argc > 3) {
    WriteText(2, argv[2]);
    WriteText(2, "\n");
    return atoi(argv[3]);
  }
  if (strcmp(what, "line") == 0 && argc > 4) {
    return Line(argv[2], atol(argv[3]), atoi(argv[4]));
  }
  fprintf(stderr, "%s: unknown behaviour or missing argument: %s\n", argv[0], what);
  return kUsageError;
}
