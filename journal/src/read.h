// Reads inside a transaction: the pieces every read path of the journal shares
// (Journal's read calls, the writer's head lookup, verification).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "journal/src/key_codec.h"
#include "journal/src/mdb.h"
#include "journal/src/record.h"
#include "journal/src/store.h"
#include "rewind/journal/journal.h"

namespace rwd::journal_internal {

// "run <id> seq <n> (position <p>)", for messages.
std::string At(const RunId& run, std::uint64_t seq, std::uint64_t position);

// The record a run index entry points at, parsed into `batch` and checked
// to be that run's, ending at the entry's seq. Corruption when it is
// missing, damaged or another run's.
Status ReadIndexed(const Store& store, const mdb::Txn& txn, const RunId& run, const key::DecodedRunEntry& entry,
                   EventBatch* batch);

// The run's head as stored; seq 0 and a zero hash for a run with no events.
// Corruption for a malformed index entry or a damaged last record.
Result<RunHead> ReadHead(const Store& store, const mdb::Txn& txn, const RunId& run);

// The run's last seq without reading its record (0 for a run with no events).
Result<std::uint64_t> ReadLastSeq(const Store& store, const mdb::Txn& txn, const RunId& run);

// A mirror's `log` database value under `key` (a run id, or kLogLastKey):
// a log sequence, 0 when the key is absent. Corruption when malformed.
Result<std::uint64_t> ReadLogSeq(const Store& store, const mdb::Txn& txn, ByteView key);

// The newest event's position (0 for an empty journal).
Result<std::uint64_t> ReadLastPosition(const Store& store, const mdb::Txn& txn);

Status ReadRunIn(const Store& store, const mdb::Txn& txn, const RunId& run, std::uint64_t from_seq,
                 std::uint64_t to_seq, const EventVisitor& visit);
Status ReadAllIn(const Store& store, const mdb::Txn& txn, std::uint64_t from_position,
                 std::uint64_t to_position, const EventVisitor& visit);
Status ForEachRunIn(const Store& store, const mdb::Txn& txn, const RunVisitor& visit);

// The blob stored under `hash`, or nullopt; Corruption when its bytes do not
// hash to it. ReadView::Blob.
Result<std::optional<ByteView>> ReadBlob(const Store& store, const mdb::Txn& txn, const Hash& hash);

Result<RunHead> VerifyRunIn(const Store& store, const mdb::Txn& txn, const RunId& run);
// Journal::VerifyAll in `txn`'s snapshot (also every blob's hash).
Result<std::uint64_t> VerifyAllIn(const Store& store, const mdb::Txn& txn);

}  // namespace rwd::journal_internal
