// Post-copy migration's receiving side (Hines and Gopalan, VEE 2009), as QEMU does it: the guest
// runs here before its memory has come, and a page is pulled from the source the first time
// anything touches it. Guest RAM is registered with userfaultfd(2) in missing mode, so that the
// first touch of a page not yet here (by the guest through Unicorn, by a page walk, by the VMM)
// blocks the touching thread in the kernel; a thread of this class asks the source for the page,
// copies it in with UFFDIO_COPY (which wakes the toucher), and meanwhile takes the pages the
// source pushes in the background. Once the source says every page has been sent, the range is
// unregistered (a page never sent was zero, and stays so).
//
// Two links (TCP sockets this class connects and owns, requests first), as QEMU's
// postcopy-preempt has: requests go on the first, a u32 page number each, and are answered on it;
// the source pushes the other pages on the second, where megabytes may be queued that an answer
// must not wait behind. Both carry page messages: u32 page number (bit 31: an all-zero page, no
// data), the 4 KiB of the page, and the CRC-32 of both; u32 0xFFFFFFFF on each says every page
// has been sent, and with both words here every page is (each link delivers in order).
// If the link fails before that, the guest has lost memory it cannot get back: the range is
// unregistered (a toucher wakes on a zero page, rather than hanging) and status says so, for
// the VMM to end the run as the guest's loss.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vmm {

class PostcopyReceiver {
 public:
  struct Status {
    uint64_t pages_received = 0;  // pages copied in, pulled or pushed
    uint64_t pages_pulled = 0;    // of those, asked for on a first touch
    uint64_t faults = 0;          // first touches that had to wait
    bool done = false;            // every page is here
    std::string failure;          // the link failed first: why
  };

  // Drops every page of [base, base + bytes) and takes them over, with the source at
  // host:port. Null (with why_not) when userfaultfd or the connection is not available.
  static std::unique_ptr<PostcopyReceiver> start(uint8_t* base, size_t bytes, const std::string& host, int port, std::string* why_not);
  ~PostcopyReceiver();

  Status status();

 private:
  // One link's bytes as they come, and whether its last word has come.
  struct Link {
    int fd = -1;
    std::vector<uint8_t> in;
    bool all_sent = false;
  };

  PostcopyReceiver(uint8_t* base, size_t bytes, int uffd, int requests, int pushes);
  void serve();
  // Takes what `link` has to read; false (after finish) when it failed.
  bool take(Link& link);
  bool place(uint32_t page, const uint8_t* data);
  void finish(const std::string& failure);

  uint8_t* base_;
  size_t bytes_;
  int uffd_;
  Link links_[2];  // requests and their answers, pushes
  int wake_[2] = {-1, -1};  // the destructor's way into poll()
  std::vector<uint8_t> present_;   // one byte per page
  std::vector<uint8_t> requested_;
  std::mutex mutex_;
  Status status_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace vmm
