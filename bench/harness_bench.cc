// harness_bench: how fast the harness runs scenarios, and what it adds to the targets' own
// work. It prints two figures, both measured in the same run:
//
//   scenario-runs per second: the starter scenarios against reference-ems and
//     reference-lsr, repeated, through RunJobs on every core (servers, rendering, process
//     launch, event-driven verdict, teardown: everything `fpconform run` does per run);
//   overhead ratio: that wall time divided by the time the same targets need by
//     themselves: the sum of bare `fpref --exit-when-done` runs against servers that are
//     already running, divided by the number of cores.
//
// Usage: harness_bench [ROUNDS] (default 50: 50 x 11 scenario runs).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "harness/process/process.h"
#include "harness/run/render.h"
#include "harness/run/runner.h"
#include "harness/suite/suite.h"
#include "harness/tls/tls_server.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* kStarterScenarios[] = {
    "enable/no-allowlist-accepts-ca-valid-edge",
    "match/listed-leaf-colon-accepted",
    "match/unlisted-leaf-rejected",
    "enable/empty-allowlist-exits",
    "legacy/legacy-key-alone-exits",
    "platform/platform-not-pinned",
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// BareRun measures `fpref --exit-when-done` on one scenario's configuration, `rounds`
// times, against servers started once; returns the summed wall time.
Result<Clock::duration> BareRuns(const Scenario& scenario, const TargetDescriptor& target,
                                 const RunEnvironment& env, int rounds) {
  Result<TempDir> dir = TempDir::Create("fpconform-bench-", env.jobs_dir());
  if (!dir.ok()) {
    return dir.take_error();
  }
  RenderContext render{&scenario, &env.pki(), env.fixtures_dir(), {}};
  std::vector<std::unique_ptr<TlsTestServer>> servers;
  for (const ServerSpec& spec : PlanServers(scenario, target.product)) {
    const certs::Certificate* cert = spec.chain.empty() ? nullptr : env.pki().Find(spec.chain[0]);
    if (cert == nullptr) {
      return MakeError(ErrorCode::kNotFound, "servers." + spec.connection + ": no certificate");
    }
    TlsServerConfig config;
    for (const certs::Certificate* c : cert->Chain()) {
      config.chain.push_back(c->cert.get());
    }
    config.key = cert->key.get();
    Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
    if (!server.ok()) {
      return server.take_error();
    }
    render.ports[spec.connection] = (*server)->port();
    servers.push_back(std::move(*server));
  }
  Result<std::string> text =
      RenderConfig(target.product, render, env.Template(target), target.config_template.string());
  if (!text.ok()) {
    return text.take_error();
  }
  fs::path config = dir->path() / target.config_file;
  Status written = WriteFile(config, *text);
  if (!written.ok()) {
    return written.take_error();
  }
  ProcessSpec spec;
  spec.argv = {(env.paths().build_dir / "reference" / "fpref").string(),
               "--product",
               ProductName(target.product),
               "--config",
               config.string(),
               "--exit-when-done"};
  spec.workdir = dir->path();
  Clock::duration total{};
  for (int i = 0; i < rounds; ++i) {
    Clock::time_point start = Clock::now();
    Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec);
    if (!child.ok()) {
      return child.take_error();
    }
    Result<ProcessStatus> status = (*child)->WaitFor(std::chrono::seconds(10));
    if (!status.ok()) {
      return status.take_error();
    }
    child->reset();
    total += Clock::now() - start;
  }
  return total;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Paths paths = DefaultPaths();
  Result<Suite> suite = LoadSuite(paths);
  if (!suite.ok()) {
    std::fprintf(stderr, "harness_bench: %s\n", suite.error().message.c_str());
    return 2;
  }
  const std::vector<Scenario>* all = &suite->scenarios;
  std::vector<TargetDescriptor> targets;
  for (const char* name : {"reference-ems", "reference-lsr"}) {
    Result<TargetDescriptor> t = LoadTarget(name, paths, *all);
    if (!t.ok()) {
      std::fprintf(stderr, "harness_bench: %s\n", t.error().message.c_str());
      return 2;
    }
    targets.push_back(std::move(*t));
  }
  std::vector<const Scenario*> starters;
  for (const char* id : kStarterScenarios) {
    for (const Scenario& s : *all) {
      if (s.id == id) {
        starters.push_back(&s);
      }
    }
  }
  Result<std::unique_ptr<RunEnvironment>> env = RunEnvironment::Create(paths, targets, false);
  if (!env.ok()) {
    std::fprintf(stderr, "harness_bench: %s\n", env.error().message.c_str());
    return 2;
  }
  std::vector<Job> jobs;
  for (int r = 0; r < rounds; ++r) {
    for (const TargetDescriptor& t : targets) {
      for (const Scenario* s : starters) {
        if (s->AppliesTo(t.product)) {
          jobs.push_back(Job{s, &t, r});
        }
      }
    }
  }
  const size_t pairs = jobs.size() / rounds;

  Clock::time_point start = Clock::now();
  std::vector<JobResult> results = RunJobs(jobs, **env, cores, {});
  Clock::duration harness_wall = Clock::now() - start;
  int failed = 0;
  for (const JobResult& r : results) {
    failed += r.status != JobStatus::kPass;
  }

  Clock::duration bare_sum{};
  for (const TargetDescriptor& t : targets) {
    for (const Scenario* s : starters) {
      if (!s->AppliesTo(t.product)) {
        continue;
      }
      Result<Clock::duration> bare = BareRuns(*s, t, **env, rounds);
      if (!bare.ok()) {
        std::fprintf(stderr, "harness_bench: %s: %s\n", s->id.c_str(),
                     bare.error().message.c_str());
        return 1;
      }
      bare_sum += *bare;
    }
  }
  const double runs = static_cast<double>(jobs.size());
  const double ideal = Seconds(bare_sum) / cores;
  std::printf("starter pairs: %zu (scenario x reference target), rounds: %d, cores: %d\n", pairs,
              rounds, cores);
  std::printf("harness: %zu scenario runs in %.2f s = %.0f runs/s (%d not passing)\n", jobs.size(),
              Seconds(harness_wall), runs / Seconds(harness_wall), failed);
  std::printf(
      "bare fpref --exit-when-done: %zu runs, %.2f s in all, %.2f ms each, / %d cores "
      "= %.2f s\n",
      jobs.size(), Seconds(bare_sum), 1000.0 * Seconds(bare_sum) / runs, cores, ideal);
  std::printf("overhead ratio (harness wall / ideal bare wall): %.2f\n",
              Seconds(harness_wall) / ideal);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace fpconform::harness

int main(int argc, char** argv) { return fpconform::harness::Main(argc, argv); }
