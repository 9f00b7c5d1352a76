// Interrupts of a run: SIGINT, SIGTERM or SIGHUP while targets run. Targets live in process
// groups of their own, so a Ctrl-C or a CI job's kill never reaches them; the harness has to
// end them itself, and unwind so that every work directory is removed.
#ifndef FPCONFORM_HARNESS_INTERRUPT_H_
#define FPCONFORM_HARNESS_INTERRUPT_H_

#include <atomic>
#include <memory>
#include <thread>

#include "base/files.h"
#include "base/result.h"

namespace fpconform::harness {

// InterruptWatcher: while one lives, the first SIGINT, SIGTERM or SIGHUP does not end the
// harness. Instead a watcher thread records it (interrupted(), signal()) and kills the
// process group of every target running now or started later (KillAllChildProcesses), so
// the runs in flight end at once and the caller can unwind. The handler is installed with
// SA_RESETHAND: a second signal of the same kind ends the harness the default way. The
// destructor restores the previous handlers and lets processes start again. One watcher at
// a time.
class InterruptWatcher {
 public:
  static Result<std::unique_ptr<InterruptWatcher>> Start();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;
  ~InterruptWatcher();

  // interrupted is true once a signal arrived; runners poll it between jobs.
  const std::atomic<bool>& interrupted() const { return interrupted_; }
  // signal returns the signal that arrived, or 0.
  int signal() const { return signal_.load(); }

 private:
  InterruptWatcher(UniqueFd read_end, UniqueFd stop);
  void Watch();

  UniqueFd read_end_;  // the handler writes the signal number to the pipe's other end
  UniqueFd stop_;      // an eventfd that ends the watcher thread
  std::atomic<bool> interrupted_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_INTERRUPT_H_
