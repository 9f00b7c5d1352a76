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
//   steps STEP...            run the steps in order (a product's connection behaviour),
//                            then exit 0; every step is bounded:
//     probe:PORT             connect to 127.0.0.1:PORT and close before sending a byte
//     hello:PORT             send a TLS ClientHello, read the server's first answer (at
//                            most 2 s) and close without an alert: a rejection
//     garbage:PORT           send bytes that are not TLS, then wait for the close (2 s)
//     silent:PORT            connect and send nothing; the socket stays open
//     listen:PORT            listen on 127.0.0.1:PORT; "Address already in use" (or any
//                            other bind error) is printed and exits 98
//     serve-one:MS           accept connections on the last listen: socket until one
//                            brings an HTTP request (connections closed without a byte
//                            are readiness probes), answer it 200 and close; exits 99
//                            when no request comes within MS
//     http-get:PORT          send one HTTP request to 127.0.0.1:PORT; exit 7 (like curl)
//                            unless the answer is a 200 within 2 s
//     sleep:MS               sleep
//     ignore-sigterm         SIGTERM is ignored from here on (a slow graceful shutdown)
//     segv                   die of SIGSEGV
//     sanitizer              print an AddressSanitizer report header on stderr, exit 1
//     exit:N                 exit with status N
//     run:N                  run the next N arguments as a command and wait for it
//     exec                   replace this process with the remaining arguments
//     hold                   sleep until killed
//
// It uses libc only and is built without sanitizers, like a vendor binary. Usage errors
// exit 64.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/testing/stand_in_io.h"

namespace {

using fpconform::stand_in::kLongSleepMs;
using fpconform::stand_in::kUsageError;
using fpconform::stand_in::SleepMs;
using fpconform::stand_in::WriteAll;
using fpconform::stand_in::WriteText;

// ForkGrandchild forks a sleeping child (in a new session when `leave_group`), prints
// "ready", then exits (leave_group) or sleeps too.
int ForkGrandchild(const char* pid_file, bool leave_group) {
  if (int status = fpconform::stand_in::ForkSleeper(pid_file, leave_group); status != 0) {
    return status;
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
    size_t n =
        left < static_cast<long long>(sizeof(chunk)) ? static_cast<size_t>(left) : sizeof(chunk);
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

// ConnectLoopback returns a socket connected to 127.0.0.1:port, or -1.
int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// ReadSome waits up to `ms` for bytes (or the end) on `fd`; returns what read() returned.
ssize_t ReadSome(int fd, char* buffer, size_t size, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) {
    return -1;
  }
  return read(fd, buffer, size);
}

// kClientHello: a TLS 1.2 ClientHello (ECDHE-ECDSA/RSA with AES-GCM, P-256 and X25519,
// common signature algorithms), enough for any TLS server to record it and answer.
const unsigned char kClientHello[] =
    {
        0x16, 0x03, 0x01, 0x00, 0x4d,  // record: handshake, 77 bytes
        0x01, 0x00, 0x00, 0x49,        // ClientHello, 73 bytes
        0x03, 0x03,                    // TLS 1.2
        1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,
        15,   16,   17,   18,   19,   20,   21,   22,   23,   24,   25,   26,   27,   28,
        29,   30,   31,   32,                                        // random
        0x00,                                                        // no session id
        0x00, 0x08, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30,  // cipher suites
        0x01, 0x00,                                                  // no compression
        0x00, 0x18,                                                  // extensions, 24 bytes
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x1d,  // supported_groups
        0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03,
        // signature_algorithms
};

int g_listener = -1;

// PrintPortHolders prints, for a bind that failed, every TCP socket of /proc/net/tcp on
// `port` (state, inode) and the processes that hold it, so that a collision names its
// cause.
void PrintPortHolders(long port) {
  FILE* tcp = fopen("/proc/net/tcp", "r");
  if (tcp == nullptr) {
    return;
  }
  char line[512];
  unsigned long inodes[16];
  int found = 0;
  for (int n = 0; n < 100000 && fgets(line, sizeof(line), tcp) != nullptr; ++n) {
    unsigned int local_port = 0;
    unsigned int state = 0;
    unsigned long inode = 0;
    char local[64];
    if (sscanf(line, " %*d: %63[0-9A-Fa-f:] %*s %x %*s %*s %*s %*d %*d %lu", local, &state,
               &inode) != 3) {
      continue;
    }
    const char* colon = strchr(local, ':');
    if (colon == nullptr || sscanf(colon + 1, "%x", &local_port) != 1 ||
        static_cast<long>(local_port) != port) {
      continue;
    }
    fprintf(stderr, "port %ld held: tcp state %02X, inode %lu\n", port, state, inode);
    if (found < 16 && inode != 0) {
      inodes[found++] = inode;
    }
  }
  fclose(tcp);
  DIR* proc = opendir("/proc");
  for (int n = 0; proc != nullptr && found > 0 && n < 100000; ++n) {
    dirent* entry = readdir(proc);
    if (entry == nullptr) {
      break;
    }
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') {
      continue;
    }
    char path[300];
    snprintf(path, sizeof(path), "/proc/%s/fd", entry->d_name);
    DIR* fds = opendir(path);
    for (int k = 0; fds != nullptr && k < 100000; ++k) {
      dirent* fd = readdir(fds);
      if (fd == nullptr) {
        break;
      }
      char link[600];
      char target[128];
      snprintf(link, sizeof(link), "%s/%s", path, fd->d_name);
      ssize_t len = readlink(link, target, sizeof(target) - 1);
      if (len <= 0) {
        continue;
      }
      target[len] = '\0';
      for (int i = 0; i < found; ++i) {
        char want[64];
        snprintf(want, sizeof(want), "socket:[%lu]", inodes[i]);
        if (strcmp(target, want) == 0) {
          char cmdline[300];
          snprintf(cmdline, sizeof(cmdline), "/proc/%s/cmdline", entry->d_name);
          char command[256] = "";
          int cfd = open(cmdline, O_RDONLY | O_CLOEXEC);
          if (cfd >= 0) {
            ssize_t got = read(cfd, command, sizeof(command) - 1);
            command[got > 0 ? got : 0] = '\0';
            for (ssize_t c = 0; c + 1 < got; ++c) {
              command[c] = command[c] == '\0' ? ' ' : command[c];
            }
            close(cfd);
          }
          fprintf(stderr, "  held by pid %s: %s\n", entry->d_name, command);
        }
      }
    }
    if (fds != nullptr) {
      closedir(fds);
    }
  }
  if (proc != nullptr) {
    closedir(proc);
  }
}

// Step runs one step of `steps`; `i` is the index of the next argument, moved past what
// the step consumed. Returns -1 to go on, or an exit status.
int Step(int argc, char** argv, int* i) {
  const char* step = argv[(*i)++];
  const char* colon = strchr(step, ':');
  const long value = colon != nullptr ? atol(colon + 1) : 0;
  auto is = [&](const char* name) {
    size_t n = strlen(name);
    return strncmp(step, name, n) == 0 && (step[n] == ':' || step[n] == '\0');
  };
  char buffer[4096];
  if (is("probe") || is("hello") || is("garbage") || is("silent")) {
    int fd = ConnectLoopback(static_cast<int>(value));
    if (fd < 0) {
      fprintf(stderr, "%s: connect: %s\n", step, strerror(errno));
      return 80;
    }
    if (is("hello")) {
      WriteAll(fd, reinterpret_cast<const char*>(kClientHello), sizeof(kClientHello));
      ReadSome(fd, buffer, sizeof(buffer), 2000);
    } else if (is("garbage")) {
      WriteText(fd, "HELLO? this is not TLS\r\n\r\n");
      for (int k = 0; k < 100 && ReadSome(fd, buffer, sizeof(buffer), 2000) > 0; ++k) {
      }
    }
    if (!is("silent")) {
      close(fd);
    }
    return -1;
  }
  if (is("listen")) {
    g_listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(value));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (g_listener < 0 || bind(g_listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(g_listener, 16) != 0) {
      int error = errno;
      fprintf(stderr, "listen on 127.0.0.1:%ld: %s\n", value, strerror(error));
      if (error == EADDRINUSE) {
        PrintPortHolders(value);
      }
      return 98;
    }
    printf("listening on %ld\n", value);
    fflush(stdout);
    return -1;
  }
  if (is("serve-one")) {
    timespec begin;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    for (int attempt = 0; attempt < 1000 && g_listener >= 0; ++attempt) {
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long left =
          value - ((now.tv_sec - begin.tv_sec) * 1000 + (now.tv_nsec - begin.tv_nsec) / 1000000);
      pollfd p{g_listener, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
        break;
      }
      int fd = accept(g_listener, nullptr, nullptr);
      if (fd < 0) {
        continue;
      }
      std::size_t got = 0;
      for (int k = 0; k < 100 && got < sizeof(buffer) - 1; ++k) {
        ssize_t n = ReadSome(fd, buffer + got, sizeof(buffer) - 1 - got, 2000);
        if (n <= 0) {
          break;
        }
        got += static_cast<std::size_t>(n);
        buffer[got] = '\0';
        if (strstr(buffer, "\r\n\r\n") != nullptr) {
          break;
        }
      }
      if (got == 0) {
        close(fd);  // a probe
        continue;
      }
      WriteText(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      close(fd);
      return -1;
    }
    fprintf(stderr, "serve-one: no request within %ld ms\n", value);
    return 99;
  }
  if (is("http-get")) {
    int fd = ConnectLoopback(static_cast<int>(value));
    if (fd < 0) {
      fprintf(stderr, "%s: connect: %s\n", step, strerror(errno));
      return 7;
    }
    WriteText(fd,
              "GET /fpconform/trigger HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ssize_t n = ReadSome(fd, buffer, sizeof(buffer) - 1, 2000);
    close(fd);
    if (n < 12 || strncmp(buffer, "HTTP/1.1 200", 12) != 0) {
      fprintf(stderr, "%s: no 200 answer\n", step);
      return 7;
    }
    return -1;
  }
  if (is("sleep")) {
    SleepMs(value);
    return -1;
  }
  if (is("ignore-sigterm")) {
    signal(SIGTERM, SIG_IGN);
    return -1;
  }
  if (is("segv")) {
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 75;
  }
  if (is("sanitizer")) {
    WriteText(2, "==1==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000\n");
    return 1;
  }
  if (is("exit")) {
    return static_cast<int>(value);
  }
  if (is("hold")) {
    SleepMs(kLongSleepMs);
    return 0;
  }
  if (is("run") && value > 0 && *i + value <= argc) {
    char* command[64];
    int n = 0;
    for (; n < value && n < 63; ++n) {
      command[n] = argv[*i + n];
    }
    command[n] = nullptr;
    *i += static_cast<int>(value);
    pid_t pid = fork();
    if (pid == 0) {
      execv(command[0], command);
      _exit(127);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return -1;
  }
  if (is("exec") && *i < argc) {
    execv(argv[*i], argv + *i);
    fprintf(stderr, "exec %s: %s\n", argv[*i], strerror(errno));
    return 127;
  }
  fprintf(stderr, "unknown or incomplete step: %s\n", step);
  return kUsageError;
}

int Steps(int argc, char** argv) {
  for (int i = 2; i < argc;) {
    int status = Step(argc, argv, &i);
    if (status >= 0) {
      return status;
    }
  }
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
  if (strcmp(what, "steps") == 0) {
    return Steps(argc, argv);
  }
  fprintf(stderr, "%s: unknown behaviour or missing argument: %s\n", argv[0], what);
  return kUsageError;
}
