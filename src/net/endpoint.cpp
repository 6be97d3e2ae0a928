#include "net/endpoint.h"

#include <cstddef>

namespace synod::net {
namespace {

constexpr std::size_t kHostLengthMax = 253;  // the DNS limit for a full name

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string example() { return "; expected host:port such as 127.0.0.1:7001 or [::1]:7001"; }

Status validate_host_name(std::string_view text, std::string_view host) {
  if (host.size() > kHostLengthMax) {
    return Error{"endpoint " + quoted(text) + " has a host longer than " +
                 std::to_string(kHostLengthMax) + " characters"};
  }
  for (char c : host) {
    if (!(is_letter(c) || is_digit(c) || c == '-' || c == '.')) {
      return Error{"endpoint " + quoted(text) + " has '" + std::string(1, c) +
                   "' in its host; a host is an IPv4 address or a name of letters, digits, "
                   "'-' and '.'"};
    }
  }
  if (host.front() == '-' || host.front() == '.') {
    return Error{"endpoint " + quoted(text) + " has a host starting with '" +
                 std::string(1, host.front()) + "'"};
  }
  return Status::Ok();
}

Status validate_ipv6(std::string_view text, std::string_view host) {
  for (char c : host) {
    // '.' for IPv4-mapped forms such as ::ffff:127.0.0.1.
    if (!(is_hex(c) || c == ':' || c == '.')) {
      return Error{"endpoint " + quoted(text) + " has '" + std::string(1, c) +
                   "' inside its IPv6 brackets"};
    }
  }
  return Status::Ok();
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view port) {
  if (port.empty()) return Error{"endpoint " + quoted(text) + " has no port" + example()};
  std::uint32_t value = 0;
  for (char c : port) {
    if (!is_digit(c)) {
      return Error{"endpoint " + quoted(text) + " has port " + quoted(port) +
                   ", which is not a number" + example()};
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 65535) {
      return Error{"endpoint " + quoted(text) + " has port " + quoted(port) +
                   "; ports go from 1 to 65535"};
    }
  }
  if (value == 0) {
    return Error{"endpoint " + quoted(text) + " has port 0; ports go from 1 to 65535"};
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  if (text.empty()) return Error{"endpoint is empty" + example()};

  std::string_view host;
  std::string_view rest;
  if (text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Error{"endpoint " + quoted(text) + " opens '[' but never closes it" + example()};
    }
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    if (host.empty()) return Error{"endpoint " + quoted(text) + " has empty brackets" + example()};
    if (Status s = validate_ipv6(text, host); !s) return s.error();
    if (rest.empty() || rest.front() != ':') {
      return Error{"endpoint " + quoted(text) + " has no port after its IPv6 address" + example()};
    }
    rest.remove_prefix(1);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error{"endpoint " + quoted(text) + " has no port" + example()};
    }
    host = text.substr(0, colon);
    rest = text.substr(colon + 1);
    if (host.empty()) return Error{"endpoint " + quoted(text) + " has no host" + example()};
    if (host.find(':') != std::string_view::npos) {
      return Error{"endpoint " + quoted(text) +
                   " looks like an IPv6 address; put it in brackets, as in [::1]:7001"};
    }
    if (Status s = validate_host_name(text, host); !s) return s.error();
  }
  Result<std::uint16_t> port = parse_port(text, rest);
  if (!port) return port.error();
  return Endpoint{std::string(host), *port};
}

std::string to_string(const Endpoint& endpoint) {
  std::string port = std::to_string(endpoint.port);
  if (endpoint.host.find(':') != std::string::npos) return "[" + endpoint.host + "]:" + port;
  return endpoint.host + ":" + port;
}

}  // namespace synod::net
