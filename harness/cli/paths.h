// How the fpconform command reads the paths it is given: relative to the caller's working
// directory, made absolute before any job runs (a job runs in its own work directory), and
// the program name that rerun lines give.
#ifndef FPCONFORM_HARNESS_CLI_PATHS_H_
#define FPCONFORM_HARNESS_CLI_PATHS_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace fpconform::harness {

// AbsoluteFromCaller returns `path` made absolute against the working directory and
// normalised ("" stays ""; on an error, `path` unchanged).
std::filesystem::path AbsoluteFromCaller(const std::filesystem::path& path);

// RerunProgram returns the command that runs this fpconform again from any directory: argv[0]
// itself when it is a plain name (found in PATH), else the absolute path of the running
// program `running` (argv[0] made absolute when `running` is empty).
std::string RerunProgram(std::string_view argv0, const std::filesystem::path& running);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CLI_PATHS_H_
