// Interrupts of a run: SIGINT, SIGTERM or SIGHUP while targets run. Targets live in process
// groups of their own, so a Ctrl-C or a CI job's kill never reaches them; the harness has to
// end them itself, and unwind so that every work directory is removed.
#ifndef FPCONFORM_HARNESS_INTERRUPT_H_
#define FPCONFORM_HARNESS_INTERRUPT_H_

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "base/files.h"
#include "base/result.h"

namespace fpconform::harness {

// InterruptWatcher: while one lives, the first SIGINT, SIGTERM or SIGHUP does not end the
// harness. Instead a watcher thread records it (interrupted(), signal()) and kills the
// process group of every target running now or started later (KillAllChildProcesses), so
// the runs in flight end at once and the caller can unwind. A second signal (of any of the
// three kinds) ends the harness at once, but never before cleaning up: the watcher thread
// stops every launch, kills every target and waits (bounded) for it to die, removes every
// directory registered with RemoveOnEmergencyExit, then exits 128 + the signal. The
// destructor restores the previous handlers (after an interrupt it leaves the three signals
// ignored instead: the program is on its way to exit 128 + N) and lets processes start
// again. One watcher at a time.
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

// RemoveOnEmergencyExit registers a directory (a run's temporary directory, which holds the
// test PKI's private keys) that an emergency exit removes; the destructor, or Forget,
// unregisters it. Thread-safe.
class RemoveOnEmergencyExit {
 public:
  explicit RemoveOnEmergencyExit(std::filesystem::path dir);
  RemoveOnEmergencyExit(const RemoveOnEmergencyExit&) = delete;
  RemoveOnEmergencyExit& operator=(const RemoveOnEmergencyExit&) = delete;
  ~RemoveOnEmergencyExit();
  // Forget unregisters the directory now (it is to be kept).
  void Forget();

 private:
  std::filesystem::path dir_;
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_INTERRUPT_H_
