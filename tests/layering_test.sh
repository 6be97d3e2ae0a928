#!/usr/bin/env bash
# The protocol cores own no I/O: nothing in src/paxos or src/rsm may include
# Asio, RocksDB, threads, clocks, files or sockets, or read a clock or an
# unseeded random source. They must stay deterministic for the simulator.
set -u
root=${1:?usage: layering_test.sh SOURCE_ROOT}
cores=()
for d in src/paxos src/rsm; do [ -d "$root/$d" ] && cores+=("$root/$d"); done
pattern='#include[[:space:]]*[<"](boost/asio|rocksdb/|thread>|chrono>|mutex>|future>|condition_variable>|fstream>|iostream>|sys/|unistd\.h|net/|storage/|server/)'
calls='(steady_clock|system_clock|high_resolution_clock|random_device|std::rand\(|time\(nullptr\))'
bad=$(grep -rnE "$pattern|$calls" "${cores[@]}")
if [ -n "$bad" ]; then
  echo "FAIL: I/O, clocks or threads inside a protocol core:"
  echo "$bad"
  exit 1
fi
echo "protocol cores (${cores[*]#$root/}) are free of I/O, clocks and threads"
