// Runs a libFuzzer target without libFuzzer, so that every build checks it:
// first every file of the given corpus folders (or single files), then a
// bounded number of pseudo-random mutations of them, from a seed.
//
//   fuzz_frame_regression [--seed S] [--mutations N] [--input-bytes-max B] PATH...
//
// Deterministic: the same seed, count and corpus give the same inputs. When an
// input fails (a property check aborts, or the process faults) the handler
// saves it to <program>-failure.bin in the working directory and prints how to
// replay it, alone with this driver or under the libFuzzer binary.
//
// No coverage feedback: that is libFuzzer's job (SYNOD_FUZZ). This is the
// cheap, always-on regression net.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;
using Input = std::vector<std::uint8_t>;

constexpr std::size_t kMutationsMax = 100'000'000;
constexpr std::size_t kCorpusFilesMax = 10'000;

struct Options {
  std::uint64_t seed = 1;
  std::size_t mutations = 0;
  std::size_t input_bytes_max = 4096;  // libFuzzer's default -max_len
  std::vector<fs::path> paths;
};

// --- What the fatal-signal handler needs, prepared before each input so the
// handler only calls async-signal-safe functions (write, open, close).

const Input* g_current = nullptr;
char g_current_what[512] = "";
char g_failure_path[1024] = "";
char g_replay_note[2048] = "";

void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_str(int fd, const char* s) { write_all(fd, s, std::strlen(s)); }

void on_fatal_signal(int sig) {
  write_str(STDERR_FILENO, "\n*** fuzz input failed: ");
  write_str(STDERR_FILENO, g_current_what);
  write_str(STDERR_FILENO, "\n");
  if (g_current != nullptr) {
    int fd = ::open(g_failure_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      write_all(fd, g_current->data(), g_current->size());
      ::close(fd);
      write_str(STDERR_FILENO, g_replay_note);
    }
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_handlers() {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
}

void run(const Input& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(input.data(), input.size());
  g_current = nullptr;
}

// --- Mutations: byte-level edits in the spirit of libFuzzer's, with no
// coverage to guide them, so the corpus supplies the structure.

// splitmix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for n far below 2^64; n must be positive.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

// Values that sit on the edges of length checks and of the fields' ranges.
std::uint64_t interesting_value(Rng& rng, std::size_t input_size) {
  static constexpr std::uint64_t kValues[] = {0,
                                              1,
                                              2,
                                              7,
                                              8,
                                              15,
                                              16,
                                              23,
                                              24,
                                              25,
                                              63,
                                              64,
                                              65,
                                              127,
                                              128,
                                              255,
                                              256,
                                              4096,
                                              0x7FFF,
                                              0xFFFF,
                                              0x7FFFFFFF,
                                              0xFFFFFFFF,
                                              0x100000000ULL,
                                              1ULL << 40,
                                              0x7FFFFFFFFFFFFFFFULL,
                                              ~0ULL};
  std::size_t pick = rng.below(std::size(kValues) + 3);
  if (pick < std::size(kValues)) return kValues[pick];
  // Near the input's own size: the lengths that almost fit.
  return input_size + pick - std::size(kValues) - 1;
}

void put_le(Input& in, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width && offset + i < in.size(); ++i) {
    in[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

void mutate_once(Input& in, const std::vector<Input>& corpus, Rng& rng) {
  const Input& other = corpus[rng.below(corpus.size())];
  switch (rng.below(10)) {
    case 0:  // flip one bit
      if (!in.empty()) in[rng.below(in.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
      break;
    case 1:  // one random byte
      if (!in.empty()) in[rng.below(in.size())] = static_cast<std::uint8_t>(rng.next());
      break;
    case 2: {  // an edge value, 1, 2, 4 or 8 bytes wide, little-endian
      if (in.empty()) break;
      const std::size_t width = std::size_t{1} << rng.below(4);
      put_le(in, rng.below(in.size()), interesting_value(rng, in.size()), width);
      break;
    }
    case 3: {  // insert 1 to 8 random bytes
      const std::size_t at = rng.below(in.size() + 1);
      const std::size_t n = 1 + rng.below(8);
      Input bytes(n);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng.next());
      in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), bytes.begin(), bytes.end());
      break;
    }
    case 4: {  // erase up to 16 bytes
      if (in.empty()) break;
      const std::size_t at = rng.below(in.size());
      const std::size_t n = std::min(in.size() - at, 1 + rng.below(16));
      in.erase(in.begin() + static_cast<std::ptrdiff_t>(at),
               in.begin() + static_cast<std::ptrdiff_t>(at + n));
      break;
    }
    case 5: {  // duplicate a range in place (repeated frames, repeated fields)
      if (in.empty()) break;
      const std::size_t from = rng.below(in.size());
      const std::size_t n = std::min(in.size() - from, 1 + rng.below(64));
      const Input slice(in.begin() + static_cast<std::ptrdiff_t>(from),
                        in.begin() + static_cast<std::ptrdiff_t>(from + n));
      const std::size_t at = rng.below(in.size() + 1);
      in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), slice.begin(), slice.end());
      break;
    }
    case 6: {  // splice: this input's head, another's tail
      const std::size_t head = rng.below(in.size() + 1);
      const std::size_t tail_from = rng.below(other.size() + 1);
      in.resize(head);
      in.insert(in.end(), other.begin() + static_cast<std::ptrdiff_t>(tail_from), other.end());
      break;
    }
    case 7:  // truncate
      in.resize(rng.below(in.size() + 1));
      break;
    case 8: {  // overwrite a range with bytes from another input
      if (in.empty() || other.empty()) break;
      const std::size_t from = rng.below(other.size());
      const std::size_t at = rng.below(in.size());
      const std::size_t n = std::min({other.size() - from, in.size() - at, 1 + rng.below(32)});
      std::copy_n(other.begin() + static_cast<std::ptrdiff_t>(from), n,
                  in.begin() + static_cast<std::ptrdiff_t>(at));
      break;
    }
    default:  // append another whole input (several frames in one stream)
      in.insert(in.end(), other.begin(), other.end());
      break;
  }
}

// --- Command line and corpus.

[[noreturn]] void usage(const char* argv0, const std::string& problem) {
  std::fprintf(stderr,
               "%s: %s\nusage: %s [--seed S] [--mutations N] [--input-bytes-max B] PATH...\n"
               "  PATH is a corpus folder (every file in it) or one input file.\n",
               argv0, problem.c_str(), argv0);
  std::exit(2);
}

std::uint64_t parse_number(const char* argv0, std::string_view flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
    usage(argv0, std::string(flag) + " wants a non-negative number, not '" + text + "'");
  }
  return value;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seed" && has_value) {
      o.seed = parse_number(argv[0], arg, argv[++i]);
    } else if (arg == "--mutations" && has_value) {
      o.mutations = parse_number(argv[0], arg, argv[++i]);
      if (o.mutations > kMutationsMax) usage(argv[0], "--mutations is capped at 100000000");
    } else if (arg == "--input-bytes-max" && has_value) {
      o.input_bytes_max = parse_number(argv[0], arg, argv[++i]);
      if (o.input_bytes_max == 0) usage(argv[0], "--input-bytes-max must be positive");
    } else if (arg.starts_with("--")) {
      usage(argv[0], "unknown or incomplete option " + std::string(arg));
    } else {
      o.paths.emplace_back(arg);
    }
  }
  if (o.paths.empty()) usage(argv[0], "no corpus given");
  return o;
}

Input read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return Input(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Files in name order, so runs are reproducible wherever the corpus is checked out.
std::vector<fs::path> corpus_files(const std::vector<fs::path>& paths) {
  std::vector<fs::path> files;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> in_dir;
      for (const auto& entry : fs::directory_iterator(p)) {
        if (entry.is_regular_file()) in_dir.push_back(entry.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "%s is neither a folder nor a file\n", p.c_str());
      std::exit(2);
    }
    if (files.size() > kCorpusFilesMax) {
      std::fprintf(stderr, "more than %zu corpus files; this driver wants a small corpus\n",
                   kCorpusFilesMax);
      std::exit(2);
    }
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const std::string program = fs::path(argv[0]).filename().string();
  std::snprintf(g_failure_path, sizeof g_failure_path, "%s-failure.bin", program.c_str());
  const std::string abs_failure = (fs::current_path() / g_failure_path).string();
  std::snprintf(g_replay_note, sizeof g_replay_note,
                "*** input saved; replay it alone with:\n    %s %s\n"
                "*** or under libFuzzer (clang, -DSYNOD_FUZZ=ON) with the fuzz_ binary of the "
                "same name.\n",
                argv[0], abs_failure.c_str());
  install_handlers();

  const auto start = std::chrono::steady_clock::now();
  const std::vector<fs::path> files = corpus_files(options.paths);
  std::vector<Input> corpus;
  for (const fs::path& file : files) {
    corpus.push_back(read_file(file));
    std::snprintf(g_current_what, sizeof g_current_what, "corpus file %s", file.c_str());
    run(corpus.back());
  }
  if (corpus.empty() && options.mutations > 0) {
    std::fprintf(stderr, "%s: no corpus files to mutate\n", program.c_str());
    return 2;
  }

  // Mutants build on the previous one a quarter of the time, to go deeper
  // than one round of edits from a corpus file.
  Rng rng(options.seed);
  Input mutant;
  for (std::size_t i = 0; i < options.mutations; ++i) {
    if (i == 0 || rng.below(4) != 0) mutant = corpus[rng.below(corpus.size())];
    const std::size_t edits = 1 + rng.below(4);
    for (std::size_t e = 0; e < edits; ++e) mutate_once(mutant, corpus, rng);
    if (mutant.size() > options.input_bytes_max) mutant.resize(options.input_bytes_max);
    std::snprintf(g_current_what, sizeof g_current_what,
                  "mutation %zu of seed %llu (all of them again: %s --seed %llu --mutations %zu "
                  "with the same corpus)",
                  i, static_cast<unsigned long long>(options.seed), argv[0],
                  static_cast<unsigned long long>(options.seed), i + 1);
    run(mutant);
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu corpus files and %zu mutations (seed %llu) hold every property, %.2f s\n",
              program.c_str(), corpus.size(), options.mutations,
              static_cast<unsigned long long>(options.seed), seconds);
  return 0;
}
