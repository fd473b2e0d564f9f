// strata-fsync-probe: does the disk flush faster when more threads ask?
//
//   strata-fsync-probe THREADS SECONDS DIR [BLOCK_BYTES]
//
// Writes a 64 MiB file of zeros under DIR and syncs it (as the journal's
// preallocated segments are), then runs THREADS threads for SECONDS, each
// repeating: pwrite one BLOCK_BYTES block (default 1600, about one `always`
// group of 13 SETs) at the next offset, then fdatasync. Prints the syncs per
// second of all threads together. If overlapping fdatasyncs were served in
// parallel, 2 threads would make about twice the syncs of 1; on this
// project's VM they did not (bench/README.md, session 7), which is why the
// journal keeps one fsync in flight. Removes its file at the end.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s THREADS SECONDS DIR [BLOCK_BYTES]\n", argv[0]);
    return 2;
  }
  const int threads = atoi(argv[1]);
  const double seconds = atof(argv[2]);
  const std::string path = std::string(argv[3]) + "/strata-fsync-probe.dat";
  const size_t block = argc > 4 ? strtoul(argv[4], nullptr, 10) : 1600;
  constexpr size_t kFileBytes = 64u << 20;
  if (threads < 1 || threads > 64 || seconds <= 0 || seconds > 600 || block < 1 ||
      block > (1u << 20)) {
    fprintf(stderr, "THREADS 1..64, SECONDS (0, 600], BLOCK_BYTES 1..1048576\n");
    return 2;
  }
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(path.c_str());
    return 1;
  }
  const std::vector<char> zeros(1u << 20, 0);
  for (size_t off = 0; off < kFileBytes; off += zeros.size()) {
    if (write(fd, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) {
      perror("write");
      return 1;
    }
  }
  if (fsync(fd) != 0) {
    perror("fsync");
    return 1;
  }
  const std::vector<char> data(block, 'x');
  std::atomic<uint64_t> next{0}, syncs{0}, errors{0};
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t off = next.fetch_add(block) % (kFileBytes - block);
        if (pwrite(fd, data.data(), block, static_cast<off_t>(off)) !=
                static_cast<ssize_t>(block) ||
            fdatasync(fd) != 0) {
          errors.fetch_add(1);
          return;
        }
        syncs.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& t : pool) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fd);
  unlink(path.c_str());
  const double n = static_cast<double>(syncs.load());
  printf("threads=%d block=%zu syncs=%.0f %.0f syncs/s, %.1f us per sync per thread, errors=%llu\n",
         threads, block, n, n / elapsed, n > 0 ? elapsed * 1e6 * threads / n : 0.0,
         static_cast<unsigned long long>(errors.load()));
  return errors.load() == 0 ? 0 : 1;
}
