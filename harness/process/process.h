// Process control: launch one target process, capture its output, detect its exit, and
// end it with its whole process group killed, reaped, and no descriptor or thread left.
//
// Boost.Process v1 forks and execs; everything after that (exit detection through a pidfd,
// output capture, timeouts, group kills, reaping) is done here, because v1's wait_for is
// unreliable and a destroyed boost::process::child is killed without being reaped.
#ifndef FPCONFORM_HARNESS_PROCESS_H_
#define FPCONFORM_HARNESS_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"

namespace fpconform::harness {

// ProcessSpec: what to run, where, and with which environment.
struct ProcessSpec {
  // argv[0] is a path (relative paths are taken from the harness's working directory, not
  // from `workdir`) or a name without '/' searched in the child's PATH; the rest are the
  // arguments, passed as they are (no shell).
  std::vector<std::string> argv;
  // The child's working directory; empty keeps the harness's.
  std::filesystem::path workdir;
  // Variables added to, or overriding, the harness's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // How much of each output stream is kept: the first head_bytes and the last tail_bytes.
  size_t head_bytes = 16 * 1024;
  size_t tail_bytes = 64 * 1024;
};

// ExitKind: whether a process still runs, exited by itself, or was ended by a signal.
enum class ExitKind { kRunning, kExited, kSignaled };

// ProcessStatus: how a process ended.
struct ProcessStatus {
  ExitKind kind = ExitKind::kRunning;
  int exit_code = 0;  // when kExited
  int signal = 0;     // when kSignaled
  // The signal came from Terminate, Kill or the destructor (for an exit with status 128 + N,
  // see SignalReportedByShell: signal N was sent by the harness).
  bool killed_by_harness = false;
};

// SignalReportedByShell returns N when `status` is an exit with status 128 + N (N from 1 to
// 31), the way a shell (`sh -c` without exec) reports a command that signal N ended;
// otherwise 0. The harness reads such an exit as that signal.
int SignalReportedByShell(const ProcessStatus& status);

// Describe returns a one-line description of `status`: "exited with status 3", "killed by
// signal 11 (SIGSEGV)", "killed by signal 9 (SIGKILL) sent by the harness", "exited with
// status 139 (signal 11, SIGSEGV, as a shell reports it)", "still running".
std::string Describe(const ProcessStatus& status);

// CapturedOutput: a bounded copy of one output stream.
struct CapturedOutput {
  std::string head;          // the first bytes of the stream
  std::string tail;          // the bytes after `head`, at most the last tail_bytes of them
  uint64_t total_bytes = 0;  // every byte the stream carried
  bool truncated = false;    // bytes between head and tail were dropped

  // Text returns head + tail when nothing was dropped, otherwise head, a one-line marker
  // saying how many bytes were omitted, and tail.
  std::string Text() const;
};

// SanitizerKind names the sanitizer whose report header appears in `text` ("AddressSanitizer",
// "LeakSanitizer", "UndefinedBehaviorSanitizer", "ThreadSanitizer", "MemorySanitizer"), or
// returns nullptr when there is none.
const char* SanitizerKind(std::string_view text);

// StreamCapture keeps the head and tail of a byte stream that arrives in chunks, counts it,
// and scans all of it, across chunk boundaries, for sanitizer report headers. Memory stays
// below head_bytes + 2 * tail_bytes whatever the stream's length. Not thread-safe.
class StreamCapture {
 public:
  // StreamCapture keeps the first `head_bytes` and the last `tail_bytes` of the stream.
  StreamCapture(size_t head_bytes, size_t tail_bytes);

  // Append adds the next chunk of the stream.
  void Append(std::string_view data);

  // Snapshot returns what is kept so far.
  CapturedOutput Snapshot() const;

  // sanitizer_kind returns the first sanitizer whose report header the stream carried (see
  // SanitizerKind), or nullptr.
  const char* sanitizer_kind() const { return sanitizer_kind_; }

 private:
  size_t head_limit_;
  size_t tail_limit_;
  std::string head_;
  std::string tail_;  // up to 2 * tail_limit_; Snapshot keeps the last tail_limit_
  uint64_t total_ = 0;
  std::string carry_;  // the last bytes seen, so that a header split across chunks matches
  const char* sanitizer_kind_ = nullptr;
};

// ChildProcess: one launched process, leader of its own process group, watched by one I/O
// thread that drains its stdout and stderr and notices its exit.
//
// Every method is thread-safe. The destructor kills the group if the process still runs,
// reaps it, stops the I/O thread and closes every descriptor.
class ChildProcess {
 public:
  // Start checks the executable (an Error names its path: "/x/fpref: no such file",
  // "/x/f: not executable") and the working directory, then launches the process with stdin
  // from /dev/null and stdout/stderr captured. `on_exit` (may be empty) is called once, from
  // the I/O thread, when the process has exited and its status is available (also when the
  // destructor ended it); it should only record or notify: it must not destroy this object
  // nor call WaitForOutput, which waits for that same thread. Returns an Error when nothing
  // could be launched; nothing is left running then.
  static Result<std::unique_ptr<ChildProcess>> Start(const ProcessSpec& spec,
                                                     std::function<void()> on_exit = {});

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // ~ChildProcess SIGKILLs the group (the process if it still runs, and whatever is left in
  // its group), reaps, stops and joins the I/O thread, and closes every descriptor.
  ~ChildProcess();

  // pid returns the process id, which is also its process group id.
  pid_t pid() const { return pid_; }

  // started_at returns the time just before the launch.
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }

  // ExitStatus returns the status once the process has exited, otherwise nullopt.
  std::optional<ProcessStatus> ExitStatus() const;

  // WaitFor waits up to `timeout` for the process to exit and returns its status, or a
  // kTimeout Error when it still runs.
  Result<ProcessStatus> WaitFor(std::chrono::milliseconds timeout);

  // Terminate sends SIGTERM to the whole process group and to the process itself (by its
  // pidfd: it may have left its group) if it still runs, waits up to `grace`, then sends
  // SIGKILL the same way and waits at most a few seconds more; once the process has exited
  // it SIGKILLs whatever is left in its group, reaps it, waits up to `grace` for both output
  // streams to close, and returns the status (kRunning only for a process that SIGKILL did
  // not end in time, stuck in the kernel). Idempotent; it cannot fail.
  ProcessStatus Terminate(std::chrono::milliseconds grace);

  // EscapedProcesses returns the pids of processes the target started outside its process
  // group (setsid, setpgid) that Terminate found and SIGKILLed. They are looked for only
  // when the output pipes are still open after the group was killed (an escaped process
  // holds them), by the tag every launched process carries in its environment
  // (FPCONFORM_PROCESS_TAG): one that also closed its output, or dropped its environment
  // at an exec, is not found.
  std::vector<pid_t> EscapedProcesses() const;

  // Kill sends SIGKILL to the whole process group and to the process by its pidfd now and
  // returns without waiting. Does nothing once the process has been reaped.
  void Kill();

  // WaitForOutput waits up to `timeout` until both output streams have reached end of file,
  // or returns a kTimeout Error (a process that left the group may keep them open).
  Status WaitForOutput(std::chrono::milliseconds timeout);

  // Stdout returns a snapshot of the captured stdout; complete once the process has ended
  // and WaitForOutput succeeded.
  CapturedOutput Stdout() const;

  // Stderr returns a snapshot of the captured stderr, like Stdout.
  CapturedOutput Stderr() const;

  // SanitizerReportSeen returns true once stdout or stderr carried a sanitizer report header.
  bool SanitizerReportSeen() const;

  // SanitizerReportKind returns the sanitizer that reported first ("AddressSanitizer", ...),
  // or an empty string.
  std::string SanitizerReportKind() const;

 private:
  struct Fds;  // the descriptors the parent keeps; defined in process.cc

  ChildProcess(pid_t pid, std::unique_ptr<Fds> fds, const ProcessSpec& spec,
               std::function<void()> on_exit, std::chrono::steady_clock::time_point started_at);

  // IoLoop is the I/O thread: it drains both pipes and publishes the exit status.
  void IoLoop();
  // ReadSome reads up to `max_bytes` from `fd` into `capture`; returns false once the
  // stream has ended.
  bool ReadSome(int fd, StreamCapture& capture, std::vector<char>& buffer, size_t max_bytes);
  // PublishExit reads the exit status without reaping, stores it and calls on_exit_.
  void PublishExit();
  // SignalGroupLocked sends `signal` to the process group unless the leader was reaped.
  void SignalGroupLocked(int signal);
  // KillEscaped finds the processes that carry this process's tag outside its group,
  // SIGKILLs them by pidfd and records them; returns how many it killed.
  size_t KillEscaped();
  // ReapLocked reaps the exited leader, once.
  void ReapLocked();
  bool OnIoThread() const;

  const pid_t pid_;
  const std::chrono::steady_clock::time_point started_at_;
  std::unique_ptr<Fds> fds_;
  std::function<void()> on_exit_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::optional<ProcessStatus> status_;
  bool reaped_ = false;
  bool stdout_closed_ = false;
  bool stderr_closed_ = false;
  uint32_t signals_sent_ = 0;   // bit n set once signal n was sent to the group
  std::vector<pid_t> escaped_;  // processes outside the group that Terminate killed
  std::string tag_;             // the FPCONFORM_PROCESS_TAG value the process got
  StreamCapture stdout_capture_;
  StreamCapture stderr_capture_;

  std::atomic<bool> stop_io_{false};
  std::atomic<std::thread::id> io_thread_id_{};  // set by the I/O thread when it starts
  std::thread io_thread_;
};

// ResolveExecutable returns the absolute path that `name` designates, as Start would run
// it: a name with a '/' is taken from the harness's working directory; a bare name is
// searched in `path_value` (the child's PATH; empty entries are skipped rather than meaning
// "."). The Error names the program and why it cannot run ("/x/wsems: no such file",
// "wsems: not found in PATH (...)", "/x/f: not executable").
Result<std::string> ResolveExecutable(const std::string& name, const char* path_value);

// KillAllChildProcesses sends SIGKILL to the group of every ChildProcess alive in this
// program, and makes every ChildProcess started afterwards get it at once too (an
// interrupted run must not leave a target behind, nor start a new one), until
// AllowChildProcesses. Not for signal handlers: call it from a thread.
void KillAllChildProcesses();

// StopLaunchesAndKillAll is the last word of a harness about to exit: it waits for the
// launches in flight to be registered, stops every later launch for good (Start blocks),
// SIGKILLs every ChildProcess alive and waits up to `timeout` in all for them to die. Not
// for signal handlers: call it from a thread.
void StopLaunchesAndKillAll(std::chrono::milliseconds timeout);

// AllowChildProcesses ends the effect of KillAllChildProcesses on processes started from
// now on.
void AllowChildProcesses();

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_PROCESS_H_
