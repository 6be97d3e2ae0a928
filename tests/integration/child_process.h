#pragma once
// A child process for tests against real processes: started with pipes on
// stdin and stdout, read line by line with a deadline, stopped with a real
// signal. Every wait is bounded; a failed wait reports what was seen.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace synod::testing {

class ChildProcess {
 public:
  // Starts argv[0] with the given arguments; stderr passes through to ours.
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();  // SIGKILLs the child if it still runs

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  void write_line(const std::string& line);

  // Waits until a line satisfying `match` arrives (lines seen before count
  // too, once each), up to `timeout`. Returns the line, or "" on timeout.
  std::string wait_for(const std::function<bool(const std::string&)>& match,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string wait_for_prefix(const std::string& prefix,
                              std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Every line read so far, for failure messages.
  std::string transcript() const;

  // Sends the signal and reaps the child.
  void kill_now(int signal);

 private:
  bool read_some(std::chrono::milliseconds budget);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string partial_;
  std::vector<std::string> lines_;
  std::vector<bool> consumed_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short free_port();

// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace synod::testing
