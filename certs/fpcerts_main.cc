// fpcerts: generates the test PKI and writes its files and manifest to a
// directory.
//
// Exit status: 0 written, 1 generation or write failure, 2 usage or description
// error.
#include <filesystem>
#include <iostream>
#include <string>

#include "base/command_line.h"
#include "certs/pki.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
using fpconform::kExitUsage;

// Options holds every setting of the command with its default.
struct Options {
  std::string out_dir;
  std::string description = fpconform::certs::DefaultPkiDescriptionPath().string();
};

int Run(const Options& options) {
  using fpconform::certs::LoadPkiDescription;
  using fpconform::certs::Pki;
  auto description = LoadPkiDescription(options.description);
  if (!description.ok()) {
    std::cerr << "fpcerts: " << description.error().message << "\n";
    return kExitUsage;
  }
  auto pki = Pki::Generate(*description);
  if (!pki.ok()) {
    std::cerr << "fpcerts: " << pki.error().message << "\n";
    return kExitFailure;
  }
  if (fpconform::Status written = pki->WriteTo(options.out_dir); !written.ok()) {
    std::cerr << "fpcerts: " << written.error().message << "\n";
    return kExitFailure;
  }
  std::cout << "wrote " << pki->certificates().size() << " certificates, "
            << pki->BundleNames().size() << " bundles and manifest.json to " << options.out_dir
            << "\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app(
      "Generates the fpconform test PKI (certificates, keys, chains, CA "
      "bundles) with validity "
      "relative to now, and writes the files and manifest.json to a directory.",
      "fpcerts");
  app.add_option("--out", options.out_dir, "Directory to write (created if missing)")
      ->required()
      ->type_name("DIR");
  app.add_option("--description", options.description, "PKI description to generate")
      ->type_name("FILE")
      ->capture_default_str();
  if (std::optional<int> status = fpconform::ParseCommandLine(app, argc, argv, "fpcerts")) {
    return *status;
  }
  return Run(options);
}
