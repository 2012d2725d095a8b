// report/report.h — turning a ReportDesc into output.
//
// PrintReport symbolises the stacks of one report, applies the suppressions, and writes the report
// as one block of text to the log (core/output.h). Callers hold the report lock.
#pragma once
#include "core/report_desc.h"
#include "core/suppressions.h"

namespace locksan {

// PrintReport — returns false when a suppression matched (nothing printed; the rule's hit count
// goes up), true when the report was printed.
bool PrintReport(const ReportDesc& r, Suppressions* supp);

// PrintThreadDump — one thread of a dump_signal dump (its waits, held locks and stack).
void PrintThreadDump(const ReportDesc& r);

// PrintSuppressionSummary — at exit: the rules that matched, with counts ("print_suppressions").
void PrintSuppressionSummary(const Suppressions* supp, bool enabled);

}  // namespace locksan
