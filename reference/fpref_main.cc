// fpref: the reference EMS / LSR client, a target binary for fpconform.
//
//   fpref --product ems|lsr --config FILE [--log FILE] [--exit-when-done] [--timeout-ms N]
//
// Loads the configuration (exit 3 with a one-line diagnostic when it is invalid, before any
// connection), makes the product's connections and prints one line per decision on stderr
// (and appends it to --log). Then, like the real daemons, it keeps running until SIGTERM or
// SIGINT and exits 0; with --exit-when-done it exits at once, 0 when every connection was
// accepted and 1 otherwise. Exit statuses are named in reference/fpref.h.
#include <fcntl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "base/command_line.h"
#include "reference/fpref.h"

namespace fpconform::ref {
namespace {

// Output writes each line to stderr and, when a log file is open, appends it there, each
// with one write() so that lines never interleave.
class Output {
 public:
  ~Output() {
    if (log_fd_ >= 0) {
      close(log_fd_);
    }
  }

  // OpenLog opens `path` for appending (created if missing); returns an Error naming it.
  Status OpenLog(const std::string& path) {
    log_fd_ = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd_ < 0) {
      return MakeError(ErrorCode::kIo, "--log " + path + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }

  void Line(const std::string& line) {
    std::string text = line + "\n";
    WriteAll(STDERR_FILENO, text);
    if (log_fd_ >= 0) {
      WriteAll(log_fd_, text);
    }
  }

 private:
  static void WriteAll(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return;  // nowhere left to report it
      }
      done += static_cast<size_t>(n);
    }
  }

  int log_fd_ = -1;
};

// TerminationSignals blocks SIGTERM and SIGINT and delivers them through a signalfd, which
// every wait of the connections polls: a signal ends fpref promptly, in any phase.
class TerminationSignals {
 public:
  ~TerminationSignals() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  // Install blocks the signals and opens the signalfd; returns an Error with errno's text.
  Status Install() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
      return MakeError(ErrorCode::kIo, std::string("sigprocmask: ") + std::strerror(errno));
    }
    fd_ = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd_ < 0) {
      return MakeError(ErrorCode::kIo, std::string("signalfd: ") + std::strerror(errno));
    }
    return Status::Ok();
  }

  int fd() const { return fd_; }

  // Wait blocks until SIGTERM or SIGINT arrives.
  void Wait() const {
    pollfd pfd{fd_, POLLIN, 0};
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
  }

 private:
  int fd_ = -1;
};

int Main(int argc, char** argv) {
  FprefOptions options;
  std::string product;
  std::string config;
  std::string log;
  int timeout_ms = static_cast<int>(options.timeout.count());

  CLI::App app(
      "The fpconform reference client. Loads an EMS config.json or an LSR config.lua (exit 3\n"
      "when it is invalid), makes the product's connections with certificate fingerprint\n"
      "validation, prints one line per decision on stderr, then runs until SIGTERM or SIGINT.\n"
      "Exit status: 0 stopped by SIGTERM/SIGINT, or every connection accepted\n"
      "(--exit-when-done); 1 a connection not accepted (--exit-when-done); 2 usage error;\n"
      "3 invalid configuration; 4 log file or signal set-up failed.",
      "fpref");
  app.add_option("--product", product, "Which client to play: ems or lsr (required)")
      ->required()
      ->check(CLI::IsMember({"ems", "lsr"}))
      ->type_name("ems|lsr");
  app.add_option("--config", config,
                 "The product's configuration file, config.json or config.lua (required)")
      ->required()
      ->type_name("FILE");
  app.add_option("--log", log, "Also append every output line to FILE (default: none)")
      ->type_name("FILE");
  app.add_flag("--exit-when-done", options.exit_when_done,
               "Exit after the connections, 0 if all were accepted, 1 otherwise (default: off, "
               "run until SIGTERM or SIGINT)");
  app.add_option("--timeout-ms", timeout_ms,
                 "Bound of each connect, TLS handshake, request and response read, in ms")
      ->check(CLI::Range(1, 3600 * 1000))
      ->capture_default_str()
      ->type_name("N");
  if (std::optional<int> status = ParseCommandLine(app, argc, argv, "fpref")) {
    return *status;
  }
  options.product = product == "lsr" ? Product::kLsr : Product::kEms;
  options.config = config;
  options.log = log;
  options.timeout = std::chrono::milliseconds(timeout_ms);

  // A server that closes first must not kill the process with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  // The system openssl.cnf is not read: verdicts must not depend on the machine's OpenSSL
  // configuration, and skipping it shortens every run.
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
  Output output;
  TerminationSignals signals;
  if (Status installed = signals.Install(); !installed.ok()) {
    output.Line("fpref: " + installed.error().message);
    return kExitSetupFailed;
  }
  if (!log.empty()) {
    if (Status opened = output.OpenLog(log); !opened.ok()) {
      output.Line("fpref: " + opened.error().message);
      return kExitSetupFailed;
    }
  }

  RunSummary summary =
      RunConnections(options, signals.fd(), [&](const std::string& line) { output.Line(line); });
  if (summary.exit_status == kExitInvalidConfig) {
    return kExitInvalidConfig;
  }
  if (summary.cancelled) {
    return kExitOk;
  }
  if (options.exit_when_done) {
    return summary.exit_status;
  }
  signals.Wait();
  return kExitOk;
}

}  // namespace
}  // namespace fpconform::ref

int main(int argc, char** argv) { return fpconform::ref::Main(argc, argv); }
