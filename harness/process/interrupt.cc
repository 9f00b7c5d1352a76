#include "harness/process/interrupt.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

#include "harness/process/process.h"

namespace fpconform::harness {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

// The write end of the watcher's pipe, for the handler; -1 when no watcher lives.
std::atomic<int> g_write_end{-1};

void OnSignal(int sig) {
  int saved = errno;
  int fd = g_write_end.load();
  if (fd >= 0) {
    unsigned char byte = static_cast<unsigned char>(sig);
    ssize_t ignored = write(fd, &byte, 1);  // the pipe is non-blocking; one byte is enough
    (void)ignored;
  }
  errno = saved;
}

struct sigaction g_previous[sizeof(kSignals) / sizeof(kSignals[0])];

// The directories an emergency exit removes.
struct EmergencyDirs {
  std::mutex mu;
  std::multiset<std::filesystem::path> dirs;
};

EmergencyDirs& Dirs() {
  static EmergencyDirs* dirs = new EmergencyDirs;  // never destroyed: used until exit
  return *dirs;
}

// How long an emergency exit waits for the killed targets to die before it removes their
// directories (SIGKILL by pidfd: only a process stuck in the kernel takes longer).
constexpr std::chrono::milliseconds kEmergencyKillWait(2000);

void WriteStderr(const std::string& text) {
  ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

// EmergencyExit ends the harness after a second signal: no new target, every target killed
// and waited for, the registered directories removed, then _exit(128 + sig).
[[noreturn]] void EmergencyExit(int sig) {
  StopLaunchesAndKillAll(kEmergencyKillWait);
  EmergencyDirs& registry = Dirs();
  std::lock_guard<std::mutex> lock(registry.mu);  // held until _exit
  for (const std::filesystem::path& dir : registry.dirs) {
    // A worker thread may still create files in it while this runs: a few passes.
    for (int pass = 0; pass < 5; ++pass) {
      std::error_code ec;
      // Read-only directories (the run's fixtures) would keep their files without privileges.
      for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) {
          std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                       std::filesystem::perm_options::add, ec);
        }
      }
      ec.clear();
      std::filesystem::remove_all(dir, ec);
      if (!ec && !std::filesystem::exists(dir, ec)) {
        break;
      }
    }
  }
  const char* name = sigabbrev_np(sig);
  WriteStderr(std::string("\nfpconform: second signal (SIG") + (name ? name : "?") +
              "): targets killed, work directories removed, exiting now\n");
  _exit(128 + sig);
}

}  // namespace

RemoveOnEmergencyExit::RemoveOnEmergencyExit(std::filesystem::path dir) : dir_(std::move(dir)) {
  EmergencyDirs& registry = Dirs();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.dirs.insert(dir_);
}

RemoveOnEmergencyExit::~RemoveOnEmergencyExit() { Forget(); }

void RemoveOnEmergencyExit::Forget() {
  if (dir_.empty()) {
    return;
  }
  EmergencyDirs& registry = Dirs();
  std::lock_guard<std::mutex> lock(registry.mu);
  auto it = registry.dirs.find(dir_);
  if (it != registry.dirs.end()) {
    registry.dirs.erase(it);
  }
  dir_.clear();
}

Result<std::unique_ptr<InterruptWatcher>> InterruptWatcher::Start() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return MakeError(ErrorCode::kIo, std::string("pipe2: ") + std::strerror(errno));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  if (!stop.valid()) {
    return MakeError(ErrorCode::kIo, std::string("eventfd: ") + std::strerror(errno));
  }
  int expected = -1;
  if (!g_write_end.compare_exchange_strong(expected, write_end.get())) {
    return MakeError(ErrorCode::kInternal, "an InterruptWatcher already exists");
  }
  (void)write_end.Release();
  std::unique_ptr<InterruptWatcher> watcher(
      new InterruptWatcher(std::move(read_end), std::move(stop)));
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    sigaction(kSignals[i], &action, &g_previous[i]);
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->Watch(); });
  return watcher;
}

InterruptWatcher::InterruptWatcher(UniqueFd read_end, UniqueFd stop)
    : read_end_(std::move(read_end)), stop_(std::move(stop)) {}

InterruptWatcher::~InterruptWatcher() {
  // After an interrupt the program is unwinding towards exit 128 + N: a late signal must not
  // turn that into a death by signal, so the three stay ignored.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    sigaction(kSignals[i], interrupted_.load() ? &ignore : &g_previous[i], nullptr);
  }
  uint64_t one = 1;
  while (write(stop_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  close(g_write_end.exchange(-1));
  if (interrupted_.load()) {
    AllowChildProcesses();
  }
}

void InterruptWatcher::Watch() {
  while (true) {
    pollfd fds[2] = {{read_end_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      unsigned char byte = 0;
      if (read(read_end_.get(), &byte, 1) == 1) {
        if (interrupted_.load()) {
          EmergencyExit(byte);
        }
        signal_.store(byte);
        interrupted_.store(true);
        KillAllChildProcesses();
      }
    }
    if (fds[1].revents != 0) {
      return;
    }
  }
}

}  // namespace fpconform::harness
