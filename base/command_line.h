// The command-line handling shared by fpconform's programs (GNU long options through
// CLI11): --help prints the usage on stdout and exits 0; a bad option prints one line and
// the usage on stderr and exits 2.
#ifndef FPCONFORM_BASE_COMMAND_LINE_H_
#define FPCONFORM_BASE_COMMAND_LINE_H_

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace fpconform {

// kExitUsage: the exit status of every fpconform program for a usage error.
constexpr int kExitUsage = 2;

// UsageOnError: what a usage error prints after "<program>: <reason>".
enum class UsageOnError {
  kFullUsage,  // a blank line and the usage of the (sub)command at fault
  kOneLine,    // the reason on one line, then a pointer to that command's --help
};

// ParseCommandLine parses argv into `app`. Returns nullopt when the program should go on,
// or the exit status to return at once: 0 after printing the help or version that was asked
// for, kExitUsage after "<program>: <reason>" and what `on_error` says.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv,
                                           std::string_view program,
                                           UsageOnError on_error = UsageOnError::kFullUsage) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string command(program);
    CLI::App* at_fault = &app;
    while (!at_fault->get_subcommands().empty()) {
      at_fault = at_fault->get_subcommands().back();
      command += " " + at_fault->get_name();
    }
    if (on_error == UsageOnError::kFullUsage) {
      std::cerr << program << ": " << e.what() << "\n\n" << at_fault->help();
    } else {
      std::string reason = e.what();
      std::replace(reason.begin(), reason.end(), '\n', ' ');
      std::cerr << program << ": " << reason << " (see '" << command << " --help')\n";
    }
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace fpconform

#endif  // FPCONFORM_BASE_COMMAND_LINE_H_
