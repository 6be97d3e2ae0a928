#include "sim/sim_kv.h"

#include <vector>

namespace synod::sim {
namespace {
std::vector<std::string> fields(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '|') out.emplace_back();
    else out.back() += c;
  }
  return out;
}
}  // namespace

std::string encode_kv_op(const KvOp& op) {
  switch (op.kind) {
    case KvOpKind::kPut: return "P|" + op.key + "|" + op.value;
    case KvOpKind::kGet: return "G|" + op.key;
    case KvOpKind::kCas: return (op.expect_absent ? "C!|" : "C|") + op.key + "|" + op.expected + "|" + op.value;
    case KvOpKind::kDel: return "D|" + op.key;
  }
  return "";
}

void decode_kv_reply(const std::string& reply, KvOp& op) {
  op.ok = reply.rfind("ok", 0) == 0;
  op.read_value = op.ok && reply.size() > 3 ? reply.substr(3) : "";
}

// Replies: "ok" / "ok|value" (get) when it applied or found the key,
// "no" when it did not.
std::string SimKv::apply(std::string_view op, OpPosition) {
  std::vector<std::string> f = fields(op);
  const std::string& kind = f[0];
  if (kind == "P" && f.size() == 3) {
    data_[f[1]] = f[2];
    return "ok";
  }
  if (kind == "G" && f.size() == 2) {
    auto it = data_.find(f[1]);
    return it == data_.end() ? "no" : "ok|" + it->second;
  }
  if ((kind == "C" || kind == "C!") && f.size() == 4) {
    auto it = data_.find(f[1]);
    bool matches = kind == "C!" ? it == data_.end() : (it != data_.end() && it->second == f[2]);
    if (!matches) return "no";
    data_[f[1]] = f[3];
    return "ok";
  }
  if (kind == "D" && f.size() == 2) return data_.erase(f[1]) != 0 ? "ok" : "no";
  return "bad op";
}

std::string SimKv::query(std::string_view op) const {
  std::vector<std::string> f = fields(op);
  if (f[0] != "G" || f.size() != 2) return "bad op";
  auto it = data_.find(f[1]);
  return it == data_.end() ? "no" : "ok|" + it->second;
}

void SimKv::write_snapshot(std::ostream& out) const {
  out << data_.size() << "\n";
  for (const auto& [k, v] : data_) out << k << "\n" << v << "\n";
}

bool SimKv::restore_snapshot(std::istream& in) {
  std::size_t n = 0;
  if (!(in >> n)) return false;
  in.ignore();
  std::map<std::string, std::string> d;
  for (std::size_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!std::getline(in, k) || !std::getline(in, v)) return false;
    d[k] = v;
  }
  data_ = std::move(d);
  return true;
}

}  // namespace synod::sim
