#include "jetstream/src/nats.h"

#include <string>

namespace rwd::jetstream_internal {

Status Error(natsStatus status, jsErrCode code, std::string_view what) {
  const char* last = nats_GetLastError(nullptr);
  std::string detail = last != nullptr && *last != '\0' ? last : natsStatus_GetText(status);
  if (code != 0) detail += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  Code c = Code::kInternal;
  switch (code) {
    case JSStreamWrongLastSequenceErr: c = Code::kConflict; break;
    case JSClusterNoPeersErr:
    case JSClusterNotAvailErr:
    case JSNotEnabledErr: c = Code::kUnavailable; break;
    case JSInsufficientResourcesErr: c = Code::kResourceExhausted; break;
    case JSStreamNotFoundErr:
    case JSStreamNotMatchErr:
    case JSStreamMismatchErr:
    case JSStreamReplicasNotSupportedErr: c = Code::kFailedPrecondition; break;
    default:
      switch (status) {
        case NATS_TIMEOUT:
        case NATS_NO_SERVER:
        case NATS_NO_RESPONDERS:
        case NATS_CONNECTION_CLOSED:
        case NATS_CONNECTION_DISCONNECTED:
        case NATS_STALE_CONNECTION:
        case NATS_IO_ERROR: c = Code::kUnavailable; break;
        case NATS_MAX_PAYLOAD: c = Code::kResourceExhausted; break;
        default: break;
      }
  }
  return Status(c, std::string(what) + ": " + detail);
}

}  // namespace rwd::jetstream_internal
