#include "harness/process/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "harness/process/interrupt.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kMisbehave = FPCONFORM_MISBEHAVE_PATH;
constexpr const char* kHostile = FPCONFORM_HOSTILE_PATH;
// Generous bound for things that should take milliseconds, so that a loaded CI machine or
// a sanitizer build does not fail a correct program.
constexpr milliseconds kPatience = seconds(20);

ProcessSpec Command(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

ProcessSpec Misbehave(std::vector<std::string> args) {
  args.insert(args.begin(), kMisbehave);
  return Command(std::move(args));
}

std::unique_ptr<ChildProcess> StartOrDie(const ProcessSpec& spec,
                                         std::function<void()> on_exit = {}) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec, std::move(on_exit));
  EXPECT_TRUE(child.ok()) << child.error().message;
  return child.ok() ? std::move(child).value() : nullptr;
}

// WaitUntil polls `condition` until it holds or `timeout` passes; returns whether it held.
bool WaitUntil(const std::function<bool()>& condition, milliseconds timeout = kPatience) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

std::optional<pid_t> ReadPid(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return std::nullopt;
  }
  return static_cast<pid_t>(pid);
}

// ProcessState returns the state letter of /proc/PID/stat ('R', 'S', 'Z', ...), or '\0'
// when there is no such process.
char ProcessState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) {
    return '\0';
  }
  return text[paren + 2];
}

// GoneOrZombie: the process no longer runs. An orphan killed here is re-parented to pid 1,
// which in some containers never reaps it, so a zombie counts as gone.
bool GoneOrZombie(pid_t pid) {
  char state = ProcessState(pid);
  return state == '\0' || state == 'Z' || state == 'X';
}

// ChildrenOfThisProcess returns the pids whose parent is this process, zombies included.
std::set<pid_t> ChildrenOfThisProcess() {
  std::set<pid_t> children;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) {
    return children;
  }
  pid_t self = getpid();
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') {
      continue;
    }
    std::ifstream in(std::string("/proc/") + entry->d_name + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) {
      continue;
    }
    std::istringstream fields(text.substr(paren + 2));
    char state;
    long ppid = 0;
    if (fields >> state >> ppid && ppid == self) {
      children.insert(static_cast<pid_t>(pid));
    }
  }
  closedir(dir);
  return children;
}

std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return fds;
  }
  int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') {
      int fd = std::atoi(entry->d_name);
      if (fd != own) {
        fds.insert(fd);
      }
    }
  }
  closedir(dir);
  return fds;
}

size_t ThreadCount() {
  size_t count = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) {
    ++count;
  }
  return count;
}

// Leftovers: what this process holds that a launch could leak.
struct Leftovers {
  std::set<int> fds;
  size_t threads = 0;
  std::set<pid_t> children;

  static Leftovers Now() { return {OpenFds(), ThreadCount(), ChildrenOfThisProcess()}; }
};

// WarmUp runs one launch, so that what libraries start lazily on the first one (the
// ThreadSanitizer background thread, descriptors of the C library) is counted as already
// there.
void WarmUp() {
  std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({"exit", "0"}));
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(child->WaitFor(kPatience).ok());
}

void ExpectNothingLeftBehind(const Leftovers& before) {
  // The I/O threads are joined by the destructors; give the kernel a moment to drop the
  // task entries of threads that have just ended.
  EXPECT_TRUE(WaitUntil([&] { return ThreadCount() <= before.threads; }, seconds(5)))
      << "threads before " << before.threads << ", after " << ThreadCount();
  EXPECT_EQ(OpenFds(), before.fds);
  EXPECT_EQ(ChildrenOfThisProcess(), before.children);
}

bool StdoutContains(const ChildProcess& child, const std::string& text) {
  return child.Stdout().Text().find(text) != std::string::npos;
}

TEST(ProcessTest, ExitStatusAndSignalsAreToldApart) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    ExitKind kind;
    int exit_code;
    int signal;
    const char* description;
  };
  const Case cases[] = {
      {"exit 0", {"exit", "0"}, ExitKind::kExited, 0, 0, "exited with status 0"},
      {"exit 3", {"exit", "3"}, ExitKind::kExited, 3, 0, "exited with status 3"},
      {"segv", {"segv"}, ExitKind::kSignaled, 0, SIGSEGV, "killed by signal 11 (SIGSEGV)"},
      {"abort", {"abort"}, ExitKind::kSignaled, 0, SIGABRT, "killed by signal 6 (SIGABRT)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave(c.args));
    ASSERT_NE(child, nullptr);
    Result<ProcessStatus> status = child->WaitFor(kPatience);
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_EQ(status->kind, c.kind);
    EXPECT_EQ(status->exit_code, c.exit_code);
    EXPECT_EQ(status->signal, c.signal);
    EXPECT_FALSE(status->killed_by_harness);
    EXPECT_EQ(Describe(*status), c.description);
    ASSERT_TRUE(child->ExitStatus().has_value());
    EXPECT_EQ(child->ExitStatus()->kind, c.kind);
  }
}

TEST(ProcessTest, DescribeStrings) {
  struct Case {
    ProcessStatus status;
    const char* want;
  };
  const Case cases[] = {
      {{ExitKind::kRunning, 0, 0, false}, "still running"},
      {{ExitKind::kExited, 0, 0, false}, "exited with status 0"},
      {{ExitKind::kExited, 3, 0, false}, "exited with status 3"},
      {{ExitKind::kSignaled, 0, 11, false}, "killed by signal 11 (SIGSEGV)"},
      {{ExitKind::kSignaled, 0, 9, true}, "killed by signal 9 (SIGKILL) sent by the harness"},
      {{ExitKind::kSignaled, 0, 15, true}, "killed by signal 15 (SIGTERM) sent by the harness"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(Describe(c.status), c.want);
  }
}

TEST(ProcessTest, NeverExitingProcessTimesOutThenTerminates) {
  std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({"sleep", "600000"}));
  ASSERT_NE(child, nullptr);
  EXPECT_GT(child->pid(), 0);
  EXPECT_LE(child->started_at(), Clock::now());
  EXPECT_FALSE(child->ExitStatus().has_value());

  Clock::time_point start = Clock::now();
  Result<ProcessStatus> waited = child->WaitFor(milliseconds(200));
  milliseconds took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, ErrorCode::kTimeout);
  EXPECT_GE(took, milliseconds(200));
  EXPECT_LT(took, milliseconds(200) + kPatience);

  start = Clock::now();
  ProcessStatus status = child->Terminate(kPatience);
  EXPECT_LT(Clock::now() - start, kPatience) << "SIGTERM should have been enough";
  EXPECT_EQ(status.kind, ExitKind::kSignaled);
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_TRUE(status.killed_by_harness);
  EXPECT_EQ(Describe(status), "killed by signal 15 (SIGTERM) sent by the harness");

  // Idempotent.
  ProcessStatus again = child->Terminate(milliseconds(0));
  EXPECT_EQ(again.kind, status.kind);
  EXPECT_EQ(again.signal, status.signal);
  EXPECT_TRUE(again.killed_by_harness);
}

TEST(ProcessTest, IgnoredSigtermEndsWithSigkillAfterGrace) {
  std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({"ignore-sigterm"}));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));

  constexpr milliseconds kGrace(300);
  Clock::time_point start = Clock::now();
  ProcessStatus status = child->Terminate(kGrace);
  EXPECT_GE(Clock::now() - start, kGrace);
  EXPECT_EQ(status.kind, ExitKind::kSignaled);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_TRUE(status.killed_by_harness);
}

TEST(ProcessTest, KillEndsTheProcessAtOnce) {
  std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({"ignore-sigterm"}));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));
  child->Kill();
  Result<ProcessStatus> status = child->WaitFor(kPatience);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_TRUE(status->killed_by_harness);
  child->Kill();  // harmless once exited
}

TEST(ProcessTest, TerminateKillsTheGrandchildInTheGroup) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  fs::path pid_file = dir->path() / "grandchild.pid";
  std::unique_ptr<ChildProcess> child =
      StartOrDie(Misbehave({"fork-grandchild", pid_file.string()}));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));
  std::optional<pid_t> grandchild = ReadPid(pid_file);
  ASSERT_TRUE(grandchild.has_value());
  EXPECT_FALSE(GoneOrZombie(*grandchild));

  ProcessStatus status = child->Terminate(kPatience);
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_TRUE(status.killed_by_harness);
  EXPECT_TRUE(WaitUntil([&] { return GoneOrZombie(*grandchild); }))
      << "grandchild " << *grandchild << " survived";
  EXPECT_TRUE(child->WaitForOutput(kPatience).ok());
}

TEST(ProcessTest, TerminateKillsGroupMembersLeftAfterTheLeaderDied) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  fs::path pid_file = dir->path() / "grandchild.pid";
  std::unique_ptr<ChildProcess> child =
      StartOrDie(Misbehave({"fork-grandchild", pid_file.string()}));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));
  std::optional<pid_t> grandchild = ReadPid(pid_file);
  ASSERT_TRUE(grandchild.has_value());

  // The leader dies alone (not through the harness); its child stays in the group.
  ASSERT_EQ(kill(child->pid(), SIGKILL), 0);
  Result<ProcessStatus> status = child->WaitFor(kPatience);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_FALSE(status->killed_by_harness);
  EXPECT_FALSE(GoneOrZombie(*grandchild));
  // The grandchild holds the pipes.
  EXPECT_FALSE(child->WaitForOutput(milliseconds(50)).ok());

  ProcessStatus final_status = child->Terminate(kPatience);
  EXPECT_FALSE(final_status.killed_by_harness);
  EXPECT_TRUE(WaitUntil([&] { return GoneOrZombie(*grandchild); }))
      << "grandchild " << *grandchild << " survived";
  EXPECT_TRUE(child->WaitForOutput(kPatience).ok());
}

TEST(ProcessTest, LeaderThatLeftItsGroupIsKilledByItsPidfd) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  fs::path pid_file = dir->path() / "child.pid";
  // The leader moves to this test's own process group, which ignores nothing: keep the
  // group kill from ever being aimed there by checking the leader's group first.
  std::unique_ptr<ChildProcess> child =
      StartOrDie(Command({kHostile, "leave-group", pid_file.string()}));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));
  ASSERT_EQ(getpgid(child->pid()), getpgrp()) << "the leader did not leave its group";
  std::optional<pid_t> member = ReadPid(pid_file);
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(getpgid(*member), child->pid());

  // The leader ignores SIGTERM and is out of the group's reach: only SIGKILL by its pidfd
  // ends it, within the grace period plus a bounded wait.
  constexpr milliseconds kGrace(100);
  Clock::time_point start = Clock::now();
  ProcessStatus status = child->Terminate(kGrace);
  EXPECT_LT(Clock::now() - start, kGrace + seconds(5));
  EXPECT_EQ(Describe(status), "killed by signal 9 (SIGKILL) sent by the harness");
  EXPECT_TRUE(WaitUntil([&] { return GoneOrZombie(*member); }))
      << "group member " << *member << " survived";
  EXPECT_TRUE(child->WaitForOutput(kPatience).ok());
}

TEST(ProcessTest, DestructorEndsALeaderThatLeftItsGroup) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  fs::path pid_file = dir->path() / "child.pid";
  std::unique_ptr<ChildProcess> child =
      StartOrDie(Command({kHostile, "leave-group", pid_file.string()}));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));
  pid_t leader = child->pid();
  std::optional<pid_t> member = ReadPid(pid_file);
  ASSERT_TRUE(member.has_value());
  Clock::time_point start = Clock::now();
  child.reset();
  EXPECT_LT(Clock::now() - start, seconds(5));
  EXPECT_TRUE(GoneOrZombie(leader));
  EXPECT_TRUE(WaitUntil([&] { return GoneOrZombie(*member); }));
}

TEST(ProcessTest, GrandchildThatLeftTheGroupDoesNotHangDestruction) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  fs::path pid_file = dir->path() / "grandchild.pid";
  std::unique_ptr<ChildProcess> child =
      StartOrDie(Misbehave({"setsid-grandchild", pid_file.string()}));
  ASSERT_NE(child, nullptr);
  Result<ProcessStatus> status = child->WaitFor(kPatience);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(Describe(*status), "exited with status 0");
  std::optional<pid_t> escaped = ReadPid(pid_file);
  ASSERT_TRUE(escaped.has_value());
  // Nothing in the harness can reach it: kill it by pid whatever this test's outcome.
  struct KillOnExit {
    pid_t pid;
    ~KillOnExit() {
      if (pid > 0) {
        kill(pid, SIGKILL);
      }
    }
  } kill_on_exit{*escaped};
  EXPECT_TRUE(StdoutContains(*child, "ready"));

  // The escaped process holds stdout and stderr open, and the group kill cannot reach it;
  // Terminate finds it by its environment tag, kills it and reports it.
  EXPECT_FALSE(child->WaitForOutput(milliseconds(50)).ok());
  constexpr milliseconds kGrace(100);
  Clock::time_point start = Clock::now();
  child->Terminate(kGrace);
  EXPECT_EQ(child->EscapedProcesses(), std::vector<pid_t>{*escaped});
  child.reset();
  EXPECT_LT(Clock::now() - start, kGrace + kPatience);
  EXPECT_TRUE(WaitUntil([&] { return GoneOrZombie(*escaped); }));
  kill_on_exit.pid = -1;
}

TEST(ProcessTest, HundredMegabytesOnBothStreamsStayBounded) {
  constexpr uint64_t kBytes = 100 * 1000 * 1000;
  ProcessSpec spec = Misbehave({"spew", std::to_string(kBytes)});
  spec.head_bytes = 16 * 1024;
  spec.tail_bytes = 64 * 1024;
  std::unique_ptr<ChildProcess> child = StartOrDie(spec);
  ASSERT_NE(child, nullptr);
  Result<ProcessStatus> status = child->WaitFor(seconds(120));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(Describe(*status), "exited with status 0");
  ASSERT_TRUE(child->WaitForOutput(kPatience).ok());
  for (const CapturedOutput& out : {child->Stdout(), child->Stderr()}) {
    EXPECT_EQ(out.total_bytes, kBytes);
    EXPECT_TRUE(out.truncated);
    EXPECT_EQ(out.head.size(), spec.head_bytes);
    EXPECT_EQ(out.tail.size(), spec.tail_bytes);
    EXPECT_EQ(out.head, std::string(spec.head_bytes, 'x'));
    std::string text = out.Text();
    EXPECT_LT(text.size(), spec.head_bytes + spec.tail_bytes + 100);
    EXPECT_NE(text.find("[... " + std::to_string(kBytes - spec.head_bytes - spec.tail_bytes) +
                        " bytes omitted ...]"),
              std::string::npos);
  }
  EXPECT_FALSE(child->SanitizerReportSeen());
}

TEST(ProcessTest, SanitizerReportIsDetected) {
  struct Case {
    const char* behaviour;
    bool seen;
  };
  const Case cases[] = {
      {"sanitizer", true},
      {"sanitizer-split", true},
      {"pwd", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.behaviour);
    std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({c.behaviour}));
    ASSERT_NE(child, nullptr);
    ASSERT_TRUE(child->WaitFor(kPatience).ok());
    ASSERT_TRUE(child->WaitForOutput(kPatience).ok());
    EXPECT_EQ(child->SanitizerReportSeen(), c.seen);
    EXPECT_EQ(child->SanitizerReportKind(), c.seen ? "AddressSanitizer" : "");
  }
}

TEST(StreamCaptureTest, FindsAHeaderSplitAnywhere) {
  const std::string report = "noise\n==7==ERROR: LeakSanitizer: detected memory leaks\n";
  for (size_t cut = 0; cut <= report.size(); ++cut) {
    SCOPED_TRACE(cut);
    StreamCapture capture(4, 8);
    capture.Append(std::string_view(report).substr(0, cut));
    capture.Append(std::string_view(report).substr(cut));
    ASSERT_NE(capture.sanitizer_kind(), nullptr);
    EXPECT_STREQ(capture.sanitizer_kind(), "LeakSanitizer");
  }
  // One byte at a time.
  StreamCapture bytewise(4, 8);
  for (char c : std::string("x: runtime error: load of misaligned address")) {
    bytewise.Append(std::string_view(&c, 1));
  }
  ASSERT_NE(bytewise.sanitizer_kind(), nullptr);
  EXPECT_STREQ(bytewise.sanitizer_kind(), "UndefinedBehaviorSanitizer");
}

TEST(StreamCaptureTest, RecognisesEachSanitizer) {
  struct Case {
    const char* text;
    const char* kind;
  };
  const Case cases[] = {
      {"==1==ERROR: AddressSanitizer: SEGV", "AddressSanitizer"},
      {"==1==ERROR: LeakSanitizer: detected memory leaks", "LeakSanitizer"},
      {"a.c:3:5: runtime error: signed integer overflow", "UndefinedBehaviorSanitizer"},
      {"WARNING: ThreadSanitizer: data race (pid=1)", "ThreadSanitizer"},
      {"==1==ERROR: MemorySanitizer: use-of-uninitialized-value", "MemorySanitizer"},
      {"ERROR: connection refused", nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const char* kind = SanitizerKind(c.text);
    if (c.kind == nullptr) {
      EXPECT_EQ(kind, nullptr);
    } else {
      ASSERT_NE(kind, nullptr);
      EXPECT_STREQ(kind, c.kind);
    }
  }
}

TEST(StreamCaptureTest, KeepsHeadAndTail) {
  struct Case {
    const char* name;
    std::vector<std::string> chunks;
    size_t head_bytes;
    size_t tail_bytes;
    std::string head;
    std::string tail;
    bool truncated;
    std::string text;
  };
  const Case cases[] = {
      {"empty", {}, 4, 4, "", "", false, ""},
      {"fits in head", {"ab", "c"}, 4, 4, "abc", "", false, "abc"},
      {"fits in both", {"abcdef"}, 4, 4, "abcd", "ef", false, "abcdef"},
      {"exactly both", {"abcd", "efgh"}, 4, 4, "abcd", "efgh", false, "abcdefgh"},
      {"one byte dropped",
       {"abcdefghi"},
       4,
       4,
       "abcd",
       "fghi",
       true,
       "abcd\n[... 1 bytes omitted ...]\nfghi"},
      {"many small chunks",
       {"ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st"},
       3,
       5,
       "abc",
       "pqrst",
       true,
       "abc\n[... 12 bytes omitted ...]\npqrst"},
      {"no tail", {"abcdef"}, 2, 0, "ab", "", true, "ab\n[... 4 bytes omitted ...]\n"},
      {"no head", {"abc", "def"}, 0, 2, "", "ef", true, "\n[... 4 bytes omitted ...]\nef"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StreamCapture capture(c.head_bytes, c.tail_bytes);
    uint64_t total = 0;
    for (const std::string& chunk : c.chunks) {
      capture.Append(chunk);
      total += chunk.size();
    }
    CapturedOutput out = capture.Snapshot();
    EXPECT_EQ(out.head, c.head);
    EXPECT_EQ(out.tail, c.tail);
    EXPECT_EQ(out.total_bytes, total);
    EXPECT_EQ(out.truncated, c.truncated);
    EXPECT_EQ(out.Text(), c.text);
  }
}

TEST(ProcessTest, MissingOrNonExecutableProgramIsAnErrorNamingIt) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  fs::path plain = dir->path() / "plain";
  ASSERT_TRUE(WriteFile(plain, "#!/bin/sh\nexit 0\n").ok());
  ASSERT_EQ(chmod(plain.c_str(), 0644), 0);
  fs::path garbage = dir->path() / "garbage";
  ASSERT_TRUE(WriteFile(garbage, "neither ELF nor #! script\n").ok());
  ASSERT_EQ(chmod(garbage.c_str(), 0755), 0);
  const std::string missing = dir->path().string() + "/fpref";

  struct Case {
    const char* name;
    ProcessSpec spec;
    ErrorCode code;
    std::string message;
  };
  ProcessSpec not_in_path;
  not_in_path.argv = {"fpconform-no-such-program"};
  not_in_path.env = {{"PATH", dir->path().string()}};
  ProcessSpec bad_workdir = Misbehave({"exit", "0"});
  bad_workdir.workdir = dir->path() / "nowhere";
  ProcessSpec bad_env = Misbehave({"exit", "0"});
  bad_env.env = {{"A=B", "c"}};
  const Case cases[] = {
      {"missing", Command({missing}), ErrorCode::kNotFound, missing + ": no such file"},
      {"not executable", Command({plain.string()}), ErrorCode::kInvalidInput,
       plain.string() + ": not executable"},
      {"directory", Command({dir->path().string()}), ErrorCode::kInvalidInput,
       dir->path().string() + ": is a directory, not executable"},
      {"exec format error", Command({garbage.string()}), ErrorCode::kIo,
       "launching " + garbage.string() + ": Exec format error"},
      {"not in PATH", not_in_path, ErrorCode::kNotFound,
       "fpconform-no-such-program: not found in PATH (" + dir->path().string() + ")"},
      {"missing workdir", bad_workdir, ErrorCode::kNotFound,
       (dir->path() / "nowhere").string() + ": no such directory"},
      {"bad variable name", bad_env, ErrorCode::kInvalidInput,
       "environment variable name 'A=B' is not valid"},
      {"empty argv", Command({}), ErrorCode::kInvalidInput, "empty command line"},
  };
  WarmUp();
  Leftovers before = Leftovers::Now();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(c.spec);
    ASSERT_FALSE(child.ok());
    EXPECT_EQ(child.error().code, c.code);
    EXPECT_EQ(child.error().message, c.message);
  }
  ExpectNothingLeftBehind(before);
}

TEST(ProcessTest, SearchesPathAndSetsWorkdirAndEnvironment) {
  Result<TempDir> dir = TempDir::Create("fpconform-process-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  const std::string helper_dir = fs::path(kMisbehave).parent_path().string();
  const std::string helper_name = fs::path(kMisbehave).filename().string();
  const char* inherited_path = getenv("PATH");
  ASSERT_NE(inherited_path, nullptr);

  struct Case {
    const char* name;
    ProcessSpec spec;
    std::string want_stdout;
  };
  ProcessSpec searched;
  searched.argv = {helper_name, "args", "found"};
  searched.env = {{"PATH", "/nonexistent-dir::" + helper_dir}};
  ProcessSpec in_workdir = Misbehave({"pwd"});
  in_workdir.workdir = dir->path();
  ProcessSpec added = Misbehave({"print-env", "FPCONFORM_PROCESS_TEST"});
  added.env = {{"FPCONFORM_PROCESS_TEST", "a value with spaces"}};
  ProcessSpec overridden = Misbehave({"print-env", "PATH"});
  overridden.env = {{"PATH", "/override"}};
  ProcessSpec twice = Misbehave({"print-env", "FPCONFORM_PROCESS_TEST"});
  twice.env = {{"FPCONFORM_PROCESS_TEST", "first"}, {"FPCONFORM_PROCESS_TEST", "second"}};
  const Case cases[] = {
      {"PATH search", searched, "found\n"},
      {"workdir", in_workdir, fs::canonical(dir->path()).string() + "\n"},
      {"added variable", added, "a value with spaces\n"},
      {"overridden variable", overridden, "/override\n"},
      {"last override wins", twice, "second\n"},
      {"inherited variable", Misbehave({"print-env", "PATH"}), std::string(inherited_path) + "\n"},
      {"unset variable", Misbehave({"print-env", "FPCONFORM_UNSET_VARIABLE"}), "<unset>\n"},
      {"arguments verbatim", Misbehave({"args", "a b", "", "*", "$HOME", "'\""}),
       "a b\n\n*\n$HOME\n'\"\n"},
      {"own process group", Misbehave({"pgid"}), "leader\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<ChildProcess> child = StartOrDie(c.spec);
    ASSERT_NE(child, nullptr);
    Result<ProcessStatus> status = child->WaitFor(kPatience);
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_EQ(Describe(*status), "exited with status 0") << child->Stderr().Text();
    ASSERT_TRUE(child->WaitForOutput(kPatience).ok());
    EXPECT_EQ(child->Stdout().Text(), c.want_stdout);
  }
}

TEST(ProcessTest, ChildStartsWithCleanDescriptorsAndSignals) {
  // A descriptor without close-on-exec, an ignored SIGPIPE and a blocked SIGUSR1 in the
  // launching thread must not reach the target.
  int leaky = open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  struct sigaction old_pipe;
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &old_pipe), 0);
  sigset_t block;
  sigset_t old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);

  std::unique_ptr<ChildProcess> fds = StartOrDie(Misbehave({"fds"}));
  std::unique_ptr<ChildProcess> signals = StartOrDie(Misbehave({"signals"}));

  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  close(leaky);

  ASSERT_NE(fds, nullptr);
  ASSERT_NE(signals, nullptr);
  for (ChildProcess* child : {fds.get(), signals.get()}) {
    ASSERT_TRUE(child->WaitFor(kPatience).ok());
    ASSERT_TRUE(child->WaitForOutput(kPatience).ok());
  }
  EXPECT_EQ(fds->Stdout().Text(), "");
  EXPECT_EQ(signals->Stdout().Text(), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(ProcessTest, OnExitIsCalledOnceWhenTheStatusIsKnown) {
  enum class Ending { kByItself, kKilled, kDestroyed };
  struct Case {
    const char* name;
    std::vector<std::string> args;
    Ending ending;
  };
  const Case cases[] = {
      {"exits by itself", {"exit", "5"}, Ending::kByItself},
      {"killed", {"ignore-sigterm"}, Ending::kKilled},
      {"destroyed while running", {"ignore-sigterm"}, Ending::kDestroyed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::mutex mu;
    std::condition_variable cv;
    int calls = 0;
    bool status_known = false;
    ChildProcess* observed = nullptr;  // set before anything can end the process but itself
    std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave(c.args), [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++calls;
      status_known = observed != nullptr && observed->ExitStatus().has_value();
      cv.notify_all();
    });
    ASSERT_NE(child, nullptr);
    {
      std::lock_guard<std::mutex> lock(mu);
      observed = child.get();
    }
    switch (c.ending) {
      case Ending::kByItself:
        ASSERT_TRUE(child->WaitFor(kPatience).ok());
        break;
      case Ending::kKilled:
        child->Kill();
        ASSERT_TRUE(child->WaitFor(kPatience).ok());
        break;
      case Ending::kDestroyed:
        break;
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      if (c.ending != Ending::kDestroyed) {
        ASSERT_TRUE(cv.wait_for(lock, kPatience, [&] { return calls > 0; }));
      }
      if (c.ending == Ending::kKilled) {
        EXPECT_TRUE(status_known);
      }
    }
    child.reset();
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(calls, 1);
    if (c.ending == Ending::kDestroyed) {
      EXPECT_TRUE(status_known);
    }
  }
}

TEST(ProcessTest, OnExitMayUseTheProcess) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> described;
  std::atomic<ChildProcess*> observed{nullptr};
  std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({"ignore-sigterm"}), [&] {
    ChildProcess* self = observed.load();
    std::string text = self == nullptr ? "no pointer" : Describe(self->Terminate(seconds(1)));
    if (self != nullptr) {
      text += "; " + self->Stdout().Text();
    }
    std::lock_guard<std::mutex> lock(mu);
    described = text;
    cv.notify_all();
  });
  ASSERT_NE(child, nullptr);
  observed.store(child.get());
  ASSERT_TRUE(WaitUntil([&] { return StdoutContains(*child, "ready"); }));
  child->Kill();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kPatience, [&] { return described.has_value(); }));
  EXPECT_EQ(*described, "killed by signal 9 (SIGKILL) sent by the harness; ready\n");
}

TEST(ProcessTest, ThousandLaunchesLeaveNothingBehind) {
  WarmUp();
  Leftovers before = Leftovers::Now();
  constexpr int kLaunches = 1000;
  int exited_zero = 0;
  for (int i = 0; i < kLaunches; ++i) {
    std::unique_ptr<ChildProcess> child = StartOrDie(Misbehave({"exit", "0"}));
    ASSERT_NE(child, nullptr);
    Result<ProcessStatus> status = child->WaitFor(kPatience);
    ASSERT_TRUE(status.ok()) << status.error().message;
    if (status->kind == ExitKind::kExited && status->exit_code == 0) {
      ++exited_zero;
    }
  }
  EXPECT_EQ(exited_zero, kLaunches);
  ExpectNothingLeftBehind(before);
}

TEST(ProcessTest, ConcurrentLaunchesDoNotLeakIntoEachOther) {
  WarmUp();
  Leftovers before = Leftovers::Now();
  constexpr int kThreads = 4;
  constexpr int kLaunchesPerThread = 100;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&good] {
      for (int i = 0; i < kLaunchesPerThread; ++i) {
        // Each child lists the descriptors it got: another thread's pipes must not be
        // among them, or that thread's child would never see end of file.
        Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(Misbehave({"fds"}));
        if (!child.ok()) {
          ADD_FAILURE() << child.error().message;
          return;
        }
        Result<ProcessStatus> status = (*child)->WaitFor(kPatience);
        Status output = (*child)->WaitForOutput(kPatience);
        if (status.ok() && output.ok() && status->kind == ExitKind::kExited &&
            status->exit_code == 0 && (*child)->Stdout().Text().empty()) {
          ++good;
        } else {
          ADD_FAILURE() << "launch " << i << ": "
                        << (status.ok() ? Describe(*status) : status.error().message)
                        << "; stdout: " << (*child)->Stdout().Text();
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(good.load(), kThreads * kLaunchesPerThread);
  ExpectNothingLeftBehind(before);
}

TEST(ProcessTest, ConcurrentTerminationsFromManyThreads) {
  // Many threads end one process each while others end theirs: statuses stay separate.
  WarmUp();
  Leftovers before = Leftovers::Now();
  constexpr int kThreads = 4;
  constexpr int kRounds = 10;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&good, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::vector<std::string> args = (t % 2 == 0)
                                            ? std::vector<std::string>{"sleep", "600000"}
                                            : std::vector<std::string>{"exit", std::to_string(t)};
        Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(Misbehave(args));
        if (!child.ok()) {
          ADD_FAILURE() << child.error().message;
          return;
        }
        ProcessStatus status;
        if (t % 2 == 0) {
          status = (*child)->Terminate(kPatience);
        } else {
          Result<ProcessStatus> waited = (*child)->WaitFor(kPatience);
          if (!waited.ok()) {
            ADD_FAILURE() << waited.error().message;
            return;
          }
          status = *waited;
        }
        std::string want = (t % 2 == 0) ? "killed by signal 15 (SIGTERM) sent by the harness"
                                        : "exited with status " + std::to_string(t);
        if (Describe(status) == want) {
          ++good;
        } else {
          ADD_FAILURE() << Describe(status) << "; want " << want;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(good.load(), kThreads * kRounds);
  ExpectNothingLeftBehind(before);
}

// The first SIGTERM (or SIGINT, SIGHUP) while a watcher lives kills every running child's
// group and every child started afterwards, from the watcher's thread; the harness goes on.
TEST(ProcessTest, InterruptWatcherKillsEveryChildAndLaterOnes) {
  Result<std::unique_ptr<InterruptWatcher>> watcher = InterruptWatcher::Start();
  ASSERT_TRUE(watcher.ok()) << watcher.error().message;
  EXPECT_FALSE(InterruptWatcher::Start().ok()) << "one watcher at a time";
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < 3; ++i) {
    children.push_back(StartOrDie(Misbehave({"ignore-sigterm"})));
    ASSERT_NE(children.back(), nullptr);
  }
  EXPECT_FALSE((*watcher)->interrupted());
  ASSERT_EQ(raise(SIGTERM), 0);  // handled: this test process keeps running
  ASSERT_TRUE(WaitUntil([&] { return (*watcher)->interrupted().load(); }));
  EXPECT_EQ((*watcher)->signal(), SIGTERM);
  for (const std::unique_ptr<ChildProcess>& child : children) {
    Result<ProcessStatus> status = child->WaitFor(kPatience);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(Describe(*status), "killed by signal 9 (SIGKILL) sent by the harness");
  }
  std::unique_ptr<ChildProcess> late = StartOrDie(Misbehave({"sleep", "600000"}));
  ASSERT_NE(late, nullptr);
  Result<ProcessStatus> late_status = late->WaitFor(kPatience);
  ASSERT_TRUE(late_status.ok()) << "a process started after the interrupt keeps running";
  EXPECT_EQ(late_status->signal, SIGKILL);
  // Once the watcher is gone, processes run again; after the interrupt SIGTERM stays
  // ignored (the program is on its way to exit 128 + N).
  watcher->reset();
  std::unique_ptr<ChildProcess> after = StartOrDie(Misbehave({"exit", "4"}));
  ASSERT_NE(after, nullptr);
  Result<ProcessStatus> after_status = after->WaitFor(kPatience);
  ASSERT_TRUE(after_status.ok());
  EXPECT_EQ(Describe(*after_status), "exited with status 4");
  struct sigaction current = {};
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
}

}  // namespace
}  // namespace fpconform::harness
