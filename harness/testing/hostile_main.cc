// fpconform_hostile: a stand-in target that attacks the harness rather than merely failing.
// The first argument picks the attack:
//
//   leave-group FILE      fork a child that stays in the process group and sleeps (its pid
//                         written to FILE); the leader then moves to its parent's process
//                         group, out of reach of a group kill, prints "ready", ignores
//                         SIGTERM and sleeps
//   fifo PATH STATUS      make PATH a FIFO (where the harness reads the log), then exit
//                         with STATUS
//   print TEXT STATUS     write TEXT (C escapes \e \r \n \0 \\ decoded) to stdout and
//                         stderr, then exit with STATUS
//   append SRC STATUS DST...
//                         append the content of SRC to each DST (shared fixtures, say) if
//                         it can, print what happened for each, then exit with STATUS
//
// It uses libc only and is built without sanitizers, like a vendor binary. Usage errors
// exit 64.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "harness/testing/stand_in_io.h"

namespace {

using fpconform::stand_in::kLongSleepMs;
using fpconform::stand_in::kUsageError;
using fpconform::stand_in::SleepMs;
using fpconform::stand_in::WriteAll;

// WriteText writes `text` to `fd`.
bool WriteText(int fd, const std::string& text) { return WriteAll(fd, text.data(), text.size()); }

int LeaveGroup(const char* pid_file) {
  if (int status = fpconform::stand_in::ForkSleeper(pid_file, false); status != 0) {
    return status;
  }
  // The parent's group is in this session, so the move is allowed.
  if (setpgid(0, getpgid(getppid())) != 0) {
    return 73;
  }
  signal(SIGTERM, SIG_IGN);
  WriteText(1, "ready\n");
  SleepMs(kLongSleepMs);
  return 0;
}

std::string Unescape(const char* text) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p != '\\' || p[1] == '\0') {
      out += *p;
      continue;
    }
    ++p;
    switch (*p) {
      case 'e':
        out += '\033';
        break;
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      case '0':
        out += '\0';
        break;
      default:
        out += *p;
    }
  }
  return out;
}

int Append(const char* source, const char* file) {
  int in = open(source, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    fprintf(stderr, "read %s: %s\n", source, strerror(errno));
    return 0;
  }
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = read(in, buf, sizeof(buf))) > 0) {
    data.append(buf, static_cast<size_t>(n));
  }
  close(in);
  int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "append %s: %s\n", file, strerror(errno));
    return 0;
  }
  bool ok = WriteText(fd, data);
  close(fd);
  fprintf(stderr, "append %s: %s\n", file, ok ? "written" : "write failed");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s ATTACK [ARG...]\n", argv[0]);
    return kUsageError;
  }
  const char* what = argv[1];
  const char* arg = argc > 2 ? argv[2] : nullptr;
  int status = argc > 3 ? atoi(argv[3]) : 0;
  if (strcmp(what, "leave-group") == 0 && arg != nullptr) {
    return LeaveGroup(arg);
  }
  if (strcmp(what, "fifo") == 0 && arg != nullptr) {
    unlink(arg);
    if (mkfifo(arg, 0644) != 0) {
      return 74;
    }
    return status;
  }
  if (strcmp(what, "print") == 0 && arg != nullptr) {
    std::string text = Unescape(arg);
    WriteText(1, text);
    WriteText(2, text);
    return status;
  }
  if (strcmp(what, "append") == 0 && arg != nullptr) {
    for (int i = 4; i < argc; ++i) {
      Append(arg, argv[i]);
    }
    return status;
  }
  fprintf(stderr, "%s: unknown attack or missing argument: %s\n", argv[0], what);
  return kUsageError;
}
