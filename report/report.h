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

// The printers' shared entry points (report/text_report.cc, report/line_report.cc).
class StackCache;
class TextBuffer;
// FormatTextReport — the text form of one report (docs/reports.md) into `out`.
void FormatTextReport(const ReportDesc& r, StackCache* cache, bool color, TextBuffer* out);
// ReportLockName — "M3", "RW2", "GIL", ... as the text report names the lock.
void ReportLockName(char* buf, size_t n, const ReportLock* l);
// ReportLockLocation — "global 'bob' in prog", "heap or stack memory", ...
void ReportLockLocation(TextBuffer* out, const ReportDesc& r, const ReportLock& l);
// DeliverReport — writes an unsuppressed report in the forms report_format and log_format choose:
// text to the log, JSON to <log file>.json (or JSON lines to the log), the one-line form to stderr.
void DeliverReport(const ReportDesc& r, StackCache* cache);

// PrintThreadDump — one thread of a dump_signal dump (its waits, held locks and stack).
void PrintThreadDump(const ReportDesc& r);

// PrintSuppressionSummary — at exit: the rules that matched, with counts ("print_suppressions").
void PrintSuppressionSummary(const Suppressions* supp, bool enabled);

}  // namespace locksan
