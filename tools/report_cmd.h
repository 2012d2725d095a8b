// tools/report_cmd.h — the `locksan report` command (tools/report_cmd.cc).
#pragma once

namespace locksan_tool {

// ReportMain — `locksan report ARGS...` (argv without "locksan report"). Returns the exit status:
// 0 no findings, 1 findings, 2 usage or input errors.
int ReportMain(int argc, char** argv);

}  // namespace locksan_tool
