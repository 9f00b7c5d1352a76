// fpconform_spawn_bench: the cost of spawning and reaping /bin/true three ways, as median
// and 90th percentile over --runs runs each (after 10 warm-up runs):
//
//   posix_spawn     posix_spawn + waitpid: the floor
//   boost           boost::process::child + wait(): Boost.Process v1 alone (fork + exec)
//   ChildProcess    ChildProcess::Start + WaitFor + destruction: pipes, pidfd, I/O thread,
//                   group kill and reap included
//
// --ballast-mb M first allocates and touches M MiB, to show how fork() cost grows with the
// parent's memory. Usage: fpconform_spawn_bench [--runs N] [--ballast-mb M]
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "harness/process/process.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kProgram = "/bin/true";
constexpr int kWarmUp = 10;

bool SpawnPosix() {
  pid_t pid;
  char* argv[] = {const_cast<char*>(kProgram), nullptr};
  if (posix_spawn(&pid, kProgram, nullptr, nullptr, argv, environ) != 0) {
    return false;
  }
  int status;
  return waitpid(pid, &status, 0) == pid;
}

bool SpawnBoost() {
  std::error_code ec;
  boost::process::child child(boost::process::exe = kProgram, ec);
  if (ec) {
    return false;
  }
  child.wait(ec);
  return !ec;
}

bool SpawnChildProcess() {
  fpconform::harness::ProcessSpec spec;
  spec.argv = {kProgram};
  auto child = fpconform::harness::ChildProcess::Start(spec);
  if (!child.ok()) {
    std::fprintf(stderr, "%s\n", child.error().message.c_str());
    return false;
  }
  return (*child)->WaitFor(std::chrono::seconds(10)).ok();
}

// Measure returns the sorted per-run durations in milliseconds, or an empty vector when a
// run failed.
std::vector<double> Measure(const std::function<bool()>& run, int runs) {
  std::vector<double> ms;
  for (int i = 0; i < kWarmUp + runs; ++i) {
    Clock::time_point start = Clock::now();
    if (!run()) {
      return {};
    }
    std::chrono::duration<double, std::milli> took = Clock::now() - start;
    if (i >= kWarmUp) {
      ms.push_back(took.count());
    }
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 300;
  long ballast_mb = 0;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (flag == "--ballast-mb" && i + 1 < argc) {
      ballast_mb = std::max(0L, std::atol(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--runs N] [--ballast-mb M]\n", argv[0]);
      return 2;
    }
  }
  std::vector<char> ballast(static_cast<size_t>(ballast_mb) * 1024 * 1024);
  std::memset(ballast.data(), 1, ballast.size());

  struct Way {
    const char* name;
    std::function<bool()> run;
  };
  const Way ways[] = {
      {"posix_spawn", SpawnPosix},
      {"boost", SpawnBoost},
      {"ChildProcess", SpawnChildProcess},
  };
  std::printf("spawn + reap of %s, %d runs, ballast %ld MiB\n", kProgram, runs, ballast_mb);
  for (const Way& way : ways) {
    std::vector<double> ms = Measure(way.run, runs);
    if (ms.empty()) {
      std::fprintf(stderr, "%s: a run failed\n", way.name);
      return 1;
    }
    std::printf("%-13s median %.3f ms  p90 %.3f ms\n", way.name, ms[ms.size() / 2],
                ms[ms.size() * 9 / 10]);
  }
  return 0;
}
