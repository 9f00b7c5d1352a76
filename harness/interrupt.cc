#include "harness/interrupt.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>

#include "harness/process.h"

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

}  // namespace

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
  action.sa_flags = SA_RESETHAND | SA_RESTART;
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
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    sigaction(kSignals[i], &g_previous[i], nullptr);
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
      if (read(read_end_.get(), &byte, 1) == 1 && !interrupted_.load()) {
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
