#pragma once
// Readable GoogleTest output for the rsm values the tests compare.

#include <ostream>

#include "common/ids.h"
#include "rsm/messages.h"

namespace synod {

inline void PrintTo(const Viewstamp& vs, std::ostream* out) { *out << to_string(vs); }

namespace rsm {

inline void PrintTo(const LogEntry& e, std::ostream* out) {
  *out << to_string(e.vs) << " c" << e.client_id << "#" << e.request_no;
}
inline void PrintTo(const AppendAck& a, std::ostream* out) { *out << "AppendAck{v" << a.vid << " " << to_string(a.durable) << " snapshot " << to_string(a.snapshot) << "}"; }
inline void PrintTo(const AppendGap& g, std::ostream* out) { *out << "AppendGap{v" << g.vid << " " << to_string(g.last) << "}"; }
inline void PrintTo(const ReadConfirm& c, std::ostream* out) { *out << "ReadConfirm{v" << c.vid << " round " << c.round << "}"; }
inline void PrintTo(const ReadConfirmAck& c, std::ostream* out) {
  *out << "ReadConfirmAck{v" << c.vid << " round " << c.round << "}";
}
inline void PrintTo(const ReadGrant& g, std::ostream* out) {
  *out << "ReadGrant{c" << g.request.client_id << "#" << g.request.read_no << (g.request.allow_stale ? " stale" : "")
       << " as of " << to_string(g.as_of) << "}";
}

}  // namespace rsm
}  // namespace synod
