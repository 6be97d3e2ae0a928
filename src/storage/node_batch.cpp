#include "storage/node_batch.h"

#include "storage/log_store.h"
#include "storage/paxos_store.h"

namespace synod::storage {

Status persist(Store& store, const NodeBatch& batch) {
  Batch writes;
  if (Status s = PaxosStore(store).add_to(writes, batch.paxos); !s) return s;
  if (Status s = LogStore(store).add_to(writes, batch.truncate_after, batch.appends); !s) return s;
  return store.write(writes);
}

}  // namespace synod::storage
