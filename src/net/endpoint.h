#pragma once
// A TCP address as operators write it in configuration and on the command
// line: "127.0.0.1:7001", "localhost:7001" or "[::1]:7001".

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace synod::net {

struct Endpoint {
  std::string host;  // IPv4 dotted, IPv6 without brackets, or a host name
  std::uint16_t port = 0;

  bool operator==(const Endpoint&) const = default;
};

// Port 0 is refused: an operator-written address names a real port. (A
// listener asks for an ephemeral port by building Endpoint{host, 0} itself.)
Result<Endpoint> parse_endpoint(std::string_view text);

// The inverse of parse_endpoint; IPv6 hosts get their brackets back.
std::string to_string(const Endpoint& endpoint);

}  // namespace synod::net
