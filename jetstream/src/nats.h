// The C client's objects with owners, and its errors as Statuses.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string_view>

#include "rewind/base/status.h"

namespace rwd::jetstream_internal {

template <typename T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const { Destroy(p); }
};
template <typename T, void (*Destroy)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Destroy>>;

using Options = Owned<natsOptions, natsOptions_Destroy>;
using Connection = Owned<natsConnection, natsConnection_Destroy>;
using Context = Owned<jsCtx, jsCtx_Destroy>;
using Msg = Owned<natsMsg, natsMsg_Destroy>;
// A JetStream subscription's consumer is deleted with it.
inline void Unsubscribe(natsSubscription* sub) {
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}
using Subscription = Owned<natsSubscription, Unsubscribe>;
using StreamInfo = Owned<jsStreamInfo, jsStreamInfo_Destroy>;
using PubAck = Owned<jsPubAck, jsPubAck_Destroy>;
using MetaData = Owned<jsMsgMetaData, jsMsgMetaData_Destroy>;

// `status` (not NATS_OK) and JetStream's `code` (0: none) as a Status about
// `what` ("appending to stream 'S'"): timeouts and lost connections are
// Unavailable, a wrong last sequence Conflict; the client's own last error
// text is kept.
Status Error(natsStatus status, jsErrCode code, std::string_view what);

}  // namespace rwd::jetstream_internal
