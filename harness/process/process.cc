#include "harness/process/process.h"

// Boost.Process 1.74 compiles its vfork launch path only when the feature macros predate
// POSIX 2008 (which dropped vfork); glibc still provides vfork. See kLaunchWithVfork below.
#ifndef BOOST_POSIX_HAS_VFORK
#define BOOST_POSIX_HAS_VFORK 1
#endif

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <set>
#include <shared_mutex>
#include <system_error>

#include "base/files.h"

extern char** environ;

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

// The launch uses vfork(): its cost does not grow with the harness's memory as fork()'s
// does (see README.md). ThreadSanitizer turns vfork into fork, which would hide failures
// that Boost reports through the memory vfork shares; fork is used there instead.
#if defined(__SANITIZE_THREAD__)
#define FPCONFORM_LAUNCH_WITH_VFORK 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FPCONFORM_LAUNCH_WITH_VFORK 0
#endif
#endif
#ifndef FPCONFORM_LAUNCH_WITH_VFORK
#define FPCONFORM_LAUNCH_WITH_VFORK 1
#endif
constexpr bool kLaunchWithVfork = FPCONFORM_LAUNCH_WITH_VFORK;

// How much one read takes from a pipe, and how much the I/O thread reads from one stream
// before it polls again (so that a stream that never pauses cannot starve the other one or
// hide the exit).
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerWake = 16 * kReadChunk;

std::string ErrnoText(int err) { return std::strerror(err); }

Error IoError(const std::string& what, int err) {
  return MakeError(ErrorCode::kIo, what + ": " + ErrnoText(err));
}

// AboveStdio returns `fd`, or a close-on-exec duplicate numbered 3 or more when `fd` is one
// of 0, 1, 2 (possible only when the harness runs with a standard stream closed), so that
// the child's dup2 calls onto 0, 1 and 2 never overwrite one another.
Result<UniqueFd> AboveStdio(UniqueFd fd) {
  if (fd.get() > 2) {
    return fd;
  }
  int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) {
    return IoError("fcntl(F_DUPFD_CLOEXEC)", errno);
  }
  return UniqueFd(moved);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

// MakeOutputPipe returns a close-on-exec pipe whose read end (the harness's) does not block;
// the write end, the child's stdout or stderr, stays blocking.
Result<Pipe> MakeOutputPipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return IoError("pipe2", errno);
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  if (fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
    return IoError("fcntl(O_NONBLOCK)", errno);
  }
  Result<UniqueFd> r = AboveStdio(std::move(read_end));
  if (!r.ok()) {
    return r.take_error();
  }
  Result<UniqueFd> w = AboveStdio(std::move(write_end));
  if (!w.ok()) {
    return w.take_error();
  }
  return Pipe{std::move(r).value(), std::move(w).value()};
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// How long Terminate and the destructor wait for the leader once SIGKILL was sent to it by
// its pidfd. SIGKILL cannot be caught, so this only runs out for a process stuck in the
// kernel (uninterruptible sleep); the harness then gives up on it rather than hang.
constexpr std::chrono::milliseconds kKillWait(5000);

// The environment variable that tags every launched process (see EscapedProcesses).
constexpr char kProcessTagVariable[] = "FPCONFORM_PROCESS_TAG";

// EnvironmentHolds is true when the initial environment of process `pid` holds `entry`
// ("NAME=value"); reads at most 1 MiB of it.
bool EnvironmentHolds(pid_t pid, const std::string& entry) {
  std::string path = "/proc/" + std::to_string(pid) + "/environ";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    return false;
  }
  std::string data;
  char buf[16384];
  while (data.size() < (1U << 20)) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  std::string needle = std::string(1, '\0') + entry + std::string(1, '\0');
  return data.compare(0, entry.size() + 1, entry + std::string(1, '\0')) == 0 ||
         data.find(needle) != std::string::npos;
}

// CheckExecutable returns an Error naming `path` when it cannot be executed.
Status CheckExecutable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return MakeError(ErrorCode::kNotFound, path + ": no such file");
    }
    return IoError(path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidInput, path + ": is a directory, not executable");
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidInput, path + ": not a regular file");
  }
  if (access(path.c_str(), X_OK) != 0) {
    return MakeError(ErrorCode::kInvalidInput, path + ": not executable");
  }
  return Status::Ok();
}

// MergeEnvironment returns the harness's environment with `overrides` added or replaced,
// as NAME=VALUE strings.
Result<std::vector<std::string>> MergeEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    entries.emplace_back(*e);
  }
  for (const auto& [name, value] : overrides) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidInput,
                       "environment variable name '" + name + "' is not valid");
    }
    std::string prefix = name + "=";
    auto it = std::find_if(entries.begin(), entries.end(), [&](const std::string& entry) {
      return entry.compare(0, prefix.size(), prefix) == 0;
    });
    if (it != entries.end()) {
      *it = prefix + value;
    } else {
      entries.push_back(prefix + value);
    }
  }
  return entries;
}

const char* FindVariable(const std::vector<std::string>& entries, std::string_view name) {
  for (const std::string& entry : entries) {
    if (entry.size() > name.size() && entry[name.size()] == '=' &&
        entry.compare(0, name.size(), name) == 0) {
      return entry.c_str() + name.size() + 1;
    }
  }
  return nullptr;
}

// KillAndReap ends a child that was launched but cannot be handed over to a ChildProcess.
void KillAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// LaunchSetup is the Boost.Process extension that prepares the child between fork and
// exec. Everything in on_exec_setup is async-signal-safe: the harness is multi-threaded.
struct LaunchSetup : boost::process::extend::handler {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  const char* workdir = nullptr;  // nullptr: keep the harness's
  char** envp = nullptr;

  template <class Executor>
  void on_setup(Executor& exec) const {
    exec.env = envp;
  }

  // on_error runs in the harness when the child failed before or at exec, while the child
  // is still unreaped. On the fork path Boost then forgets it, so it is reaped here. On the
  // vfork path Boost's boost::process::child reaps it when it goes out of scope, but with
  // waitpid(WNOHANG), which misses a child that has not quite finished exiting: wait,
  // without reaping, until it has.
  template <class Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    if (exec.pid <= 0) {
      return;
    }
    if (!kLaunchWithVfork) {
      KillAndReap(exec.pid);
      return;
    }
    kill(exec.pid, SIGKILL);
    siginfo_t info;
    while (waitid(P_PID, static_cast<id_t>(exec.pid), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
  }

  template <class Executor>
  void on_exec_setup(Executor& exec) const {
    // Lead a new process group, so that Terminate reaches the whole tree the target makes.
    if (setpgid(0, 0) != 0) {
      Fail(exec, "setpgid");
    }
    if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
      Fail(exec, "dup2");
    }
    if (workdir != nullptr && chdir(workdir) != 0) {
      Fail(exec, "chdir");
    }
    // Dispositions set to SIG_IGN survive exec (the harness ignores SIGPIPE), and so does
    // the signal mask: give the target the defaults a shell would.
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) {
        signal(sig, SIG_DFL);  // fails harmlessly for numbers libc reserves
      }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // No descriptor above 2 survives exec, whoever opened it and however: another thread's
    // pipe made without O_CLOEXEC must not reach this target (it would hold that pipe
    // open). Marking rather than closing keeps Boost's error pipe working until exec.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  }

  template <class Executor>
  [[noreturn]] void Fail(Executor& exec, const char* what) const {
    exec.set_error(std::error_code(errno, std::system_category()), what);
    _exit(127);
  }
};

// Patterns that start a sanitizer report, with the sanitizer they name.
struct SanitizerPattern {
  std::string_view header;
  const char* kind;
};
constexpr SanitizerPattern kSanitizerPatterns[] = {
    {"ERROR: AddressSanitizer", "AddressSanitizer"},
    {"ERROR: LeakSanitizer", "LeakSanitizer"},
    {"runtime error:", "UndefinedBehaviorSanitizer"},
    {"WARNING: ThreadSanitizer", "ThreadSanitizer"},
    {"ERROR: MemorySanitizer", "MemorySanitizer"},
};

constexpr size_t LongestSanitizerPattern() {
  size_t longest = 0;
  for (const SanitizerPattern& p : kSanitizerPatterns) {
    longest = std::max(longest, p.header.size());
  }
  return longest;
}

const char* SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev;
}

}  // namespace

Result<std::string> ResolveExecutable(const std::string& name, const char* path_value) {
  if (name.empty()) {
    return MakeError(ErrorCode::kInvalidInput, "empty program name");
  }
  if (name.find('/') != std::string::npos) {
    std::error_code ec;
    fs::path absolute = fs::absolute(name, ec);
    if (ec) {
      return MakeError(ErrorCode::kIo, name + ": " + ec.message());
    }
    std::string resolved = absolute.lexically_normal().string();
    Status checked = CheckExecutable(resolved);
    if (!checked.ok()) {
      return checked.take_error();
    }
    return resolved;
  }
  if (path_value == nullptr) {
    return MakeError(ErrorCode::kNotFound, name + ": not found (PATH is not set)");
  }
  std::string_view rest(path_value);
  std::string first_refusal;
  while (true) {
    size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    if (!dir.empty()) {
      std::string candidate = std::string(dir) + "/" + name;
      Status checked = CheckExecutable(candidate);
      if (checked.ok()) {
        std::error_code ec;
        fs::path absolute = fs::absolute(candidate, ec);
        return ec ? candidate : absolute.lexically_normal().string();
      }
      if (checked.error().code != ErrorCode::kNotFound && first_refusal.empty()) {
        first_refusal = checked.error().message;
      }
    }
    if (colon == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(colon + 1);
  }
  if (!first_refusal.empty()) {
    return MakeError(ErrorCode::kInvalidInput,
                     name + ": not found in PATH (" + first_refusal + ")");
  }
  return MakeError(ErrorCode::kNotFound,
                   name + ": not found in PATH (" + std::string(path_value) + ")");
}

// ---------------------------------------------------------------------------------------
// Describe, CapturedOutput, SanitizerKind, StreamCapture

int SignalReportedByShell(const ProcessStatus& status) {
  if (status.kind != ExitKind::kExited || status.exit_code <= 128 || status.exit_code >= 160) {
    return 0;
  }
  return status.exit_code - 128;
}

std::string Describe(const ProcessStatus& status) {
  switch (status.kind) {
    case ExitKind::kRunning:
      return "still running";
    case ExitKind::kExited: {
      std::string text = "exited with status " + std::to_string(status.exit_code);
      if (int sig = SignalReportedByShell(status); sig != 0) {
        const char* name = SignalName(sig);
        text += " (signal " + std::to_string(sig) +
                (name != nullptr ? std::string(", SIG") + name : std::string()) +
                ", as a shell reports it" +
                (status.killed_by_harness ? std::string(", sent by the harness") : "") + ")";
      }
      return text;
    }
    case ExitKind::kSignaled: {
      std::string text = "killed by signal " + std::to_string(status.signal);
      const char* name = SignalName(status.signal);
      if (name != nullptr) {
        text += std::string(" (SIG") + name + ")";
      }
      if (status.killed_by_harness) {
        text += " sent by the harness";
      }
      return text;
    }
  }
  return "unknown status";
}

std::string CapturedOutput::Text() const {
  if (!truncated) {
    return head + tail;
  }
  uint64_t omitted = total_bytes - head.size() - tail.size();
  std::string marker = "\n[... " + std::to_string(omitted) + " bytes omitted ...]\n";
  return head + marker + tail;
}

const char* SanitizerKind(std::string_view text) {
  for (const SanitizerPattern& p : kSanitizerPatterns) {
    if (text.find(p.header) != std::string_view::npos) {
      return p.kind;
    }
  }
  return nullptr;
}

StreamCapture::StreamCapture(size_t head_bytes, size_t tail_bytes)
    : head_limit_(head_bytes), tail_limit_(tail_bytes) {}

void StreamCapture::Append(std::string_view data) {
  if (data.empty()) {
    return;
  }
  total_ += data.size();
  if (sanitizer_kind_ == nullptr) {
    constexpr size_t kKeep = LongestSanitizerPattern() - 1;
    // A header split across chunks lies within carry_ + the first kKeep bytes of data.
    std::string seam = carry_;
    seam.append(data.substr(0, std::min(data.size(), kKeep)));
    sanitizer_kind_ = SanitizerKind(seam);
    if (sanitizer_kind_ == nullptr) {
      sanitizer_kind_ = SanitizerKind(data);
    }
    if (data.size() >= kKeep) {
      carry_.assign(data.substr(data.size() - kKeep));
    } else {
      carry_.append(data);
      if (carry_.size() > kKeep) {
        carry_.erase(0, carry_.size() - kKeep);
      }
    }
  }
  if (head_.size() < head_limit_) {
    size_t take = std::min(head_limit_ - head_.size(), data.size());
    head_.append(data.substr(0, take));
    data.remove_prefix(take);
  }
  if (data.empty() || tail_limit_ == 0) {
    return;
  }
  if (data.size() >= tail_limit_) {
    tail_.assign(data.substr(data.size() - tail_limit_));
    return;
  }
  if (tail_.size() + data.size() > 2 * tail_limit_) {
    tail_.erase(0, tail_.size() + data.size() - tail_limit_);
  }
  tail_.append(data);
}

CapturedOutput StreamCapture::Snapshot() const {
  CapturedOutput out;
  out.head = head_;
  size_t keep = std::min(tail_.size(), tail_limit_);
  out.tail = tail_.substr(tail_.size() - keep);
  out.total_bytes = total_;
  out.truncated = total_ > out.head.size() + out.tail.size();
  return out;
}

// ---------------------------------------------------------------------------------------
// ChildProcess

struct ChildProcess::Fds {
  UniqueFd stdout_read;
  UniqueFd stderr_read;
  UniqueFd pidfd;
  UniqueFd wake;  // eventfd that wakes the I/O thread
};

namespace {

// Launch runs Boost.Process and returns the pid of the child, already detached from its
// boost::process::child (which would kill it, unreaped, when destroyed). Signals stay
// blocked in this thread during the launch, so that no handler of the harness can run in
// the child before on_exec_setup has restored the default dispositions.
pid_t Launch(const std::string& exe, const std::vector<std::string>& args, LaunchSetup& setup,
             std::error_code& ec) {
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = -1;
  {
#if FPCONFORM_LAUNCH_WITH_VFORK
    boost::process::child child(boost::process::exe = exe, boost::process::args = args, setup,
                                boost::process::posix::use_vfork, ec);
#else
    boost::process::child child(boost::process::exe = exe, boost::process::args = args, setup, ec);
#endif
    if (!ec) {
      pid = child.id();
      child.detach();
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return pid;
}

// LaunchedGuard kills and reaps a launched child unless released.
class LaunchedGuard {
 public:
  explicit LaunchedGuard(pid_t pid) : pid_(pid) {}
  LaunchedGuard(const LaunchedGuard&) = delete;
  LaunchedGuard& operator=(const LaunchedGuard&) = delete;
  ~LaunchedGuard() {
    if (pid_ > 0) {
      KillAndReap(pid_);
    }
  }
  void Release() { pid_ = -1; }

 private:
  pid_t pid_;
};

// LaunchGate: every Start holds it shared from the launch until its ChildProcess is
// registered; StopLaunchesAndKillAll takes it exclusively and never gives it back, so that
// no process is launched that nobody will kill.
std::shared_mutex& LaunchGate() {
  static std::shared_mutex* gate = new std::shared_mutex;  // never destroyed: used until exit
  return *gate;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const ProcessSpec& spec,
                                                          std::function<void()> on_exit) {
  try {
    if (spec.argv.empty()) {
      return MakeError(ErrorCode::kInvalidInput, "empty command line");
    }
    // A tag by which processes the target starts outside its group are found again
    // (EscapedProcesses): unique in this harness, and across harnesses by the pid.
    static std::atomic<uint64_t> launches{0};
    std::string tag = std::to_string(getpid()) + "-" + std::to_string(++launches);
    std::vector<std::pair<std::string, std::string>> overrides = spec.env;
    overrides.emplace_back(kProcessTagVariable, tag);
    Result<std::vector<std::string>> env = MergeEnvironment(overrides);
    if (!env.ok()) {
      return env.take_error();
    }
    Result<std::string> exe = ResolveExecutable(spec.argv[0], FindVariable(*env, "PATH"));
    if (!exe.ok()) {
      return exe.take_error();
    }
    std::string workdir;
    if (!spec.workdir.empty()) {
      workdir = spec.workdir.string();
      struct stat st;
      if (stat(workdir.c_str(), &st) != 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
          return MakeError(ErrorCode::kNotFound, workdir + ": no such directory");
        }
        return IoError(workdir, err);
      }
      if (!S_ISDIR(st.st_mode)) {
        return MakeError(ErrorCode::kInvalidInput, workdir + ": not a directory");
      }
    }

    std::vector<char*> envp;
    envp.reserve(env->size() + 1);
    for (std::string& entry : *env) {
      envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());

    Result<Pipe> out = MakeOutputPipe();
    if (!out.ok()) {
      return out.take_error();
    }
    Result<Pipe> err = MakeOutputPipe();
    if (!err.ok()) {
      return err.take_error();
    }
    UniqueFd opened_devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!opened_devnull.valid()) {
      return IoError("/dev/null", errno);
    }
    Result<UniqueFd> devnull = AboveStdio(std::move(opened_devnull));
    if (!devnull.ok()) {
      return devnull.take_error();
    }
    auto fds = std::make_unique<Fds>();
    fds->stdout_read = std::move(out->read_end);
    fds->stderr_read = std::move(err->read_end);
    fds->wake = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fds->wake.valid()) {
      return IoError("eventfd", errno);
    }

    LaunchSetup setup;
    setup.stdin_fd = devnull->get();
    setup.stdout_fd = out->write_end.get();
    setup.stderr_fd = err->write_end.get();
    setup.workdir = workdir.empty() ? nullptr : workdir.c_str();
    setup.envp = envp.data();

    std::shared_lock<std::shared_mutex> launching(LaunchGate());
    std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
    std::error_code ec;
    pid_t pid = Launch(*exe, args, setup, ec);
    if (ec) {
      return MakeError(ErrorCode::kIo, "launching " + *exe + ": " + ec.message());
    }
    LaunchedGuard guard(pid);
    // The child holds its own copies now.
    out->write_end.Reset();
    err->write_end.Reset();
    devnull->Reset();

    // The child is not reaped by anyone else (the harness must neither ignore SIGCHLD nor
    // wait for arbitrary children), so its pid cannot have been reused yet.
    fds->pidfd = UniqueFd(PidfdOpen(pid));
    if (!fds->pidfd.valid()) {
      return IoError("pidfd_open for " + *exe, errno);
    }
    std::unique_ptr<ChildProcess> process(
        new ChildProcess(pid, std::move(fds), spec, std::move(on_exit), started_at));
    process->tag_ = std::move(tag);
    process->io_thread_ = std::thread([p = process.get()] { p->IoLoop(); });
    guard.Release();
    return process;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("launching a process: ") + e.what());
  }
}

namespace {

// The live ChildProcess objects, for KillAllChildProcesses. Kill is called with the
// registry's mutex held and a destructor takes that mutex before anything else, so no
// object is killed after its destruction began.
struct Registry {
  std::mutex mu;
  std::set<ChildProcess*> live;
  bool kill_all = false;
};

Registry& Processes() {
  static Registry* registry = new Registry;  // never destroyed: used until exit
  return *registry;
}

}  // namespace

void KillAllChildProcesses() {
  Registry& registry = Processes();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.kill_all = true;
  for (ChildProcess* process : registry.live) {
    process->Kill();
  }
}

void StopLaunchesAndKillAll(std::chrono::milliseconds timeout) {
  KillAllChildProcesses();  // the launches in flight kill their process when registered
  LaunchGate().lock();      // never unlocked: the harness is about to exit
  Registry& registry = Processes();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.kill_all = true;
  const std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + timeout;
  for (ChildProcess* process : registry.live) {
    process->Kill();
  }
  for (ChildProcess* process : registry.live) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    (void)process->WaitFor(std::max(left, std::chrono::milliseconds(0)));
  }
}

void AllowChildProcesses() {
  Registry& registry = Processes();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.kill_all = false;
}

ChildProcess::ChildProcess(pid_t pid, std::unique_ptr<Fds> fds, const ProcessSpec& spec,
                           std::function<void()> on_exit,
                           std::chrono::steady_clock::time_point started_at)
    : pid_(pid),
      started_at_(started_at),
      fds_(std::move(fds)),
      on_exit_(std::move(on_exit)),
      stdout_capture_(spec.head_bytes, spec.tail_bytes),
      stderr_capture_(spec.head_bytes, spec.tail_bytes) {
  Registry& registry = Processes();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.live.insert(this);
  if (registry.kill_all) {
    Kill();
  }
}

ChildProcess::~ChildProcess() {
  {
    Registry& registry = Processes();
    std::lock_guard<std::mutex> lock(registry.mu);
    registry.live.erase(this);
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!status_.has_value() && io_thread_.joinable()) {
      SignalGroupLocked(SIGKILL);
      cv_.wait_for(lock, kKillWait, [this] { return status_.has_value(); });
    }
    SignalGroupLocked(SIGKILL);  // whatever is left in the group
    ReapLocked();
  }
  stop_io_.store(true);
  if (io_thread_.joinable()) {
    uint64_t one = 1;
    while (write(fds_->wake.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    io_thread_.join();
  }
}

std::optional<ProcessStatus> ChildProcess::ExitStatus() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

Result<ProcessStatus> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return status_.has_value(); })) {
    return MakeError(ErrorCode::kTimeout, "process " + std::to_string(pid_) +
                                              " still running after " +
                                              std::to_string(timeout.count()) + " ms");
  }
  return *status_;
}

ProcessStatus ChildProcess::Terminate(std::chrono::milliseconds grace) {
  ProcessStatus result;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!status_.has_value()) {
      SignalGroupLocked(SIGTERM);
      if (!cv_.wait_for(lock, grace, [this] { return status_.has_value(); })) {
        SignalGroupLocked(SIGKILL);
        cv_.wait_for(lock, kKillWait, [this] { return status_.has_value(); });
      }
    }
    // The leader is a zombie until ReapLocked, which keeps its pid (the group id) from
    // being reused, so this cannot reach an unrelated group.
    SignalGroupLocked(SIGKILL);
    ReapLocked();
    result = status_.value_or(ProcessStatus{});
  }
  if (!OnIoThread() && !WaitForOutput(grace).ok() && KillEscaped() > 0) {
    (void)WaitForOutput(grace);
  }
  return result;
}

size_t ChildProcess::KillEscaped() {
  const std::string entry = std::string(kProcessTagVariable) + "=" + tag_;
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return 0;
  }
  const pid_t self = getpid();
  // /proc lists a bounded number of processes; each is read at most twice.
  while (dirent* entry_name = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry_name->d_name, &end, 10);
    if (end == entry_name->d_name || *end != '\0' || pid <= 0 || pid == self ||
        getpgid(static_cast<pid_t>(pid)) == pid_) {
      continue;  // the group was killed already; only what left it is looked for
    }
    if (!EnvironmentHolds(static_cast<pid_t>(pid), entry)) {
      continue;
    }
    // The pidfd pins the process; checking the tag again after opening it makes sure the
    // pid was not reused in between.
    UniqueFd pidfd(PidfdOpen(static_cast<pid_t>(pid)));
    if (pidfd.valid() && EnvironmentHolds(static_cast<pid_t>(pid), entry) &&
        PidfdSendSignal(pidfd.get(), SIGKILL) == 0) {
      found.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(proc);
  std::lock_guard<std::mutex> lock(mu_);
  escaped_.insert(escaped_.end(), found.begin(), found.end());
  return found.size();
}

std::vector<pid_t> ChildProcess::EscapedProcesses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return escaped_;
}

void ChildProcess::Kill() {
  std::lock_guard<std::mutex> lock(mu_);
  SignalGroupLocked(SIGKILL);
}

Status ChildProcess::WaitForOutput(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return stdout_closed_ && stderr_closed_; })) {
    return MakeError(ErrorCode::kTimeout, "output of process " + std::to_string(pid_) +
                                              " still open after " +
                                              std::to_string(timeout.count()) + " ms");
  }
  return Status::Ok();
}

CapturedOutput ChildProcess::Stdout() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_capture_.Snapshot();
}

CapturedOutput ChildProcess::Stderr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_capture_.Snapshot();
}

bool ChildProcess::SanitizerReportSeen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_capture_.sanitizer_kind() != nullptr || stderr_capture_.sanitizer_kind() != nullptr;
}

std::string ChildProcess::SanitizerReportKind() const {
  std::lock_guard<std::mutex> lock(mu_);
  const char* kind = stderr_capture_.sanitizer_kind();
  if (kind == nullptr) {
    kind = stdout_capture_.sanitizer_kind();
  }
  return kind == nullptr ? std::string() : std::string(kind);
}

void ChildProcess::SignalGroupLocked(int sig) {
  if (reaped_) {
    return;  // the group id may belong to someone else now
  }
  signals_sent_ |= 1U << sig;
  kill(-pid_, sig);
  // The leader itself, by its pidfd (which cannot name a reused pid): it may have left its
  // group (setpgid to another group of the session), out of reach of the group kill.
  PidfdSendSignal(fds_->pidfd.get(), sig);
}

void ChildProcess::ReapLocked() {
  if (reaped_ || !status_.has_value()) {
    return;
  }
  siginfo_t info;
  while (waitid(P_PIDFD, static_cast<id_t>(fds_->pidfd.get()), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
  reaped_ = true;
}

bool ChildProcess::OnIoThread() const { return std::this_thread::get_id() == io_thread_id_.load(); }

bool ChildProcess::ReadSome(int fd, StreamCapture& capture, std::vector<char>& buffer,
                            size_t max_bytes) {
  size_t taken = 0;
  while (taken < max_bytes) {
    size_t want = std::min(buffer.size(), max_bytes - taken);
    ssize_t n = read(fd, buffer.data(), want);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno == EAGAIN;  // any other error ends the stream like EOF
    }
    if (n == 0) {
      return false;
    }
    taken += static_cast<size_t>(n);
    std::lock_guard<std::mutex> lock(mu_);
    capture.Append(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  return true;
}

void ChildProcess::PublishExit() {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  // WNOWAIT: the leader stays a zombie, holding its pid and so the group id, until
  // Terminate or the destructor has killed what is left of the group and reaps it.
  int rc;
  do {
    rc = waitid(P_PIDFD, static_cast<id_t>(fds_->pidfd.get()), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  ProcessStatus status;
  bool reaped_elsewhere = false;
  if (rc != 0) {
    // ECHILD: someone else reaped it (SIGCHLD ignored or a wait for any child). The status
    // is lost; report a failure rather than wait forever.
    status.kind = ExitKind::kExited;
    status.exit_code = -1;
    reaped_elsewhere = true;
  } else if (info.si_pid == 0) {
    return;  // not exited after all
  } else if (info.si_code == CLD_EXITED) {
    status.kind = ExitKind::kExited;
    status.exit_code = info.si_status;
  } else {
    status.kind = ExitKind::kSignaled;
    status.signal = info.si_status;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.kind == ExitKind::kSignaled && status.signal > 0 && status.signal < 32) {
      status.killed_by_harness = (signals_sent_ & (1U << status.signal)) != 0;
    }
    if (int sig = SignalReportedByShell(status); sig != 0) {
      status.killed_by_harness = (signals_sent_ & (1U << sig)) != 0;
    }
    status_ = status;
    if (reaped_elsewhere) {
      reaped_ = true;
    }
  }
  cv_.notify_all();
  if (on_exit_) {
    try {
      on_exit_();
    } catch (...) {
      // The callback must not throw; an exception cannot go anywhere useful from here.
    }
  }
}

void ChildProcess::IoLoop() {
  io_thread_id_.store(std::this_thread::get_id());
  std::vector<char> buffer(kReadChunk);
  bool stdout_open = true;
  bool stderr_open = true;
  bool exited = false;
  auto mark_closed = [this](bool& closed_flag) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_flag = true;
    }
    cv_.notify_all();
  };
  while (!stop_io_.load()) {
    if (exited && !stdout_open && !stderr_open) {
      break;
    }
    pollfd pfds[4];
    nfds_t count = 0;
    int out_index = -1;
    int err_index = -1;
    int pid_index = -1;
    if (stdout_open) {
      out_index = static_cast<int>(count);
      pfds[count++] = {fds_->stdout_read.get(), POLLIN, 0};
    }
    if (stderr_open) {
      err_index = static_cast<int>(count);
      pfds[count++] = {fds_->stderr_read.get(), POLLIN, 0};
    }
    if (!exited) {
      pid_index = static_cast<int>(count);
      pfds[count++] = {fds_->pidfd.get(), POLLIN, 0};
    }
    int wake_index = static_cast<int>(count);
    pfds[count++] = {fds_->wake.get(), POLLIN, 0};

    if (poll(pfds, count, -1) < 0) {
      continue;  // EINTR, or a transient ENOMEM
    }
    if (pfds[wake_index].revents != 0) {
      uint64_t value;
      while (read(fds_->wake.get(), &value, sizeof(value)) < 0 && errno == EINTR) {
      }
      continue;  // the loop condition checks stop_io_
    }
    if (out_index >= 0 && pfds[out_index].revents != 0) {
      stdout_open = ReadSome(fds_->stdout_read.get(), stdout_capture_, buffer, kMaxReadPerWake);
      if (!stdout_open) {
        mark_closed(stdout_closed_);
      }
    }
    if (err_index >= 0 && pfds[err_index].revents != 0) {
      stderr_open = ReadSome(fds_->stderr_read.get(), stderr_capture_, buffer, kMaxReadPerWake);
      if (!stderr_open) {
        mark_closed(stderr_closed_);
      }
    }
    if (pid_index >= 0 && pfds[pid_index].revents != 0) {
      // Everything the leader wrote before it exited sits in the pipes now: take exactly
      // that much (other group members may keep writing), then publish the status, so
      // that output read after the exit is seen includes the leader's last words.
      struct {
        bool* open;
        bool* closed;
        int fd;
        StreamCapture* capture;
      } streams[] = {
          {&stdout_open, &stdout_closed_, fds_->stdout_read.get(), &stdout_capture_},
          {&stderr_open, &stderr_closed_, fds_->stderr_read.get(), &stderr_capture_},
      };
      for (auto& s : streams) {
        int available = 0;
        if (*s.open && ioctl(s.fd, FIONREAD, &available) == 0 && available > 0) {
          *s.open = ReadSome(s.fd, *s.capture, buffer, static_cast<size_t>(available));
          if (!*s.open) {
            mark_closed(*s.closed);
          }
        }
      }
      PublishExit();
      std::lock_guard<std::mutex> lock(mu_);
      exited = status_.has_value();
    }
  }
}

}  // namespace fpconform::harness
