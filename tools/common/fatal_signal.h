// When reading a damaged journal crashes the process.
//
// LMDB trusts the pages of its data file. A damaged branch, leaf or overflow
// page can make it read past the map (SIGBUS), through a wild pointer
// (SIGSEGV) or trip one of its own assertions (SIGABRT) before any check of
// ours sees a byte: about one in a hundred random damages of a data file
// does (tests/tools/*_damage_test.cc). Both tools turn that into a report
// naming the journal directory and the exit status kExitJournalCrashed (21),
// never a core dump:
//
//  * journal-inspect runs each command in a child process and reports a
//    child that died of a signal (tools/inspect/main.cc): it only reads, and
//    it may be pointed at any copied directory, so it pays a fork per command
//    to catch every way a child can die.
//  * rewind handles the fatal signals in its own process (ReportFatalSignals).
//    Its commands own the journal's writer lock (which records their pid),
//    run shell steps as children, and `serve` stops on SIGINT/SIGTERM through
//    sigwait: a supervising parent would have to forward signals and exit
//    statuses and would stand between the user and the process holding the
//    lock, on the path of every command. Ending in the handler is as safe for
//    the journal as SIGKILL, which the crash tests cover: LMDB commits by
//    writing a meta page last, so a transaction cut short leaves the last
//    commit; the writer lock (flock) and LMDB's robust mutex and reader slot
//    are released or cleared when the process is gone. And every command that
//    writes first checks the journal (journal_open.h), so a journal known to
//    be damaged is not written to at all.
//
// A fatal signal has other causes too (a bug, an uncaught exception), so the
// report says the data file is the likely cause and names the check to run.
#pragma once

#include <string>
#include <string_view>

namespace rwd::cli {

// The JSON error code of the report (ErrorJson).
inline constexpr std::string_view kCrashedErrorCode = "reader_crashed";

// "reading the journal in 'DIR' crashed the process (signal 7, Bus error):
// its data file is most likely damaged beyond what the checks can report
// (`journal-inspect verify --data 'DIR'` shows what they find)".
std::string JournalCrashMessage(const std::string& data_dir, int sig);

// From now on, SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT in any thread ends
// the process with _exit(kExitJournalCrashed) after writing
// JournalCrashMessage(data_dir, sig): with `json` as one ErrorJson object on
// stdout, else as "TOOL: message" on stderr. The reports are formatted here,
// so the handler only writes them (async-signal-safe); it runs on an
// alternate stack in the calling thread, so a stack overflow there is
// reported too. Nothing buffered in std::cout is flushed.
// REQUIRES: called once, from main, before any other thread starts.
void ReportFatalSignals(std::string_view tool, const std::string& data_dir, bool json);

}  // namespace rwd::cli
