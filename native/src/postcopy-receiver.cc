#include "postcopy-receiver.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vmm {
namespace {

constexpr size_t kPage = 4096;
constexpr uint32_t kZeroPage = 0x80000000u;
constexpr uint32_t kAllSent = 0xFFFFFFFFu;

// CRC-32 (IEEE 802.3, the polynomial zlib's crc32 uses, as the TypeScript side checks with).
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0) {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)ready;
  crc = ~crc;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

int connect_to(const std::string& host, int port, std::string* why_not) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) {
    *why_not = "cannot resolve the source's address " + host;
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    *why_not = "cannot connect to the source's page server: " + std::string(strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool write_all(int fd, const void* data, size_t size) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::unique_ptr<PostcopyReceiver> PostcopyReceiver::start(uint8_t* base, size_t bytes, const std::string& host, int port, std::string* why_not) {
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) {
    *why_not = "userfaultfd is not available on this host: " + std::string(strerror(errno));
    return nullptr;
  }
  uffdio_api api{};
  api.api = UFFD_API;
  if (ioctl(uffd, UFFDIO_API, &api) != 0) {
    close(uffd);
    *why_not = "userfaultfd refused its API handshake";
    return nullptr;
  }
  int requests = connect_to(host, port, why_not);
  int pushes = requests < 0 ? -1 : connect_to(host, port, why_not);
  if (pushes < 0) {
    if (requests >= 0) close(requests);
    close(uffd);
    return nullptr;
  }
  // Every page goes: what is here (the tables a new machine writes) is not the guest's.
  madvise(base, bytes, MADV_NOHUGEPAGE);
  madvise(base, bytes, MADV_DONTNEED);
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(base);
  reg.range.len = bytes;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
    *why_not = "userfaultfd cannot take guest RAM: " + std::string(strerror(errno));
    close(uffd);
    close(requests);
    close(pushes);
    return nullptr;
  }
  return std::unique_ptr<PostcopyReceiver>(new PostcopyReceiver(base, bytes, uffd, requests, pushes));
}

PostcopyReceiver::PostcopyReceiver(uint8_t* base, size_t bytes, int uffd, int requests, int pushes)
    : base_(base), bytes_(bytes), uffd_(uffd), present_(bytes / kPage, 0), requested_(bytes / kPage, 0) {
  links_[0].fd = requests;
  links_[1].fd = pushes;
  if (pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { serve(); });
}

PostcopyReceiver::~PostcopyReceiver() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    char byte = 0;
    (void)!write(wake_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  finish("");
  for (int fd : wake_) if (fd >= 0) close(fd);
}

PostcopyReceiver::Status PostcopyReceiver::status() {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

// Copies a page in (waking whoever waits for it); false when the kernel refused.
bool PostcopyReceiver::place(uint32_t page, const uint8_t* data) {
  if (page >= present_.size() || present_[page]) return true;
  uintptr_t at = reinterpret_cast<uintptr_t>(base_) + uintptr_t{page} * kPage;
  int result;
  if (data) {
    uffdio_copy copy{};
    copy.dst = at;
    copy.src = reinterpret_cast<uintptr_t>(data);
    copy.len = kPage;
    result = ioctl(uffd_, UFFDIO_COPY, &copy);
  } else {
    uffdio_zeropage zero{};
    zero.range.start = at;
    zero.range.len = kPage;
    result = ioctl(uffd_, UFFDIO_ZEROPAGE, &zero);
  }
  if (result != 0 && errno != EEXIST) return false;
  present_[page] = 1;
  std::lock_guard<std::mutex> lock(mutex_);
  status_.pages_received++;
  if (requested_[page]) status_.pages_pulled++;
  return true;
}

// The range goes back to the kernel (a page never sent is zero-filled on first touch, and a
// toucher waiting now wakes), and the link closes.
void PostcopyReceiver::finish(const std::string& failure) {
  // Told before the range goes: a toucher that wakes on a zero page may end the run at once, and
  // whoever then asks must find why.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure.empty() && status_.failure.empty() && !status_.done) status_.failure = failure;
  }
  if (uffd_ >= 0) {
    uffdio_range range{};
    range.start = reinterpret_cast<uintptr_t>(base_);
    range.len = bytes_;
    ioctl(uffd_, UFFDIO_UNREGISTER, &range);
    close(uffd_);
    uffd_ = -1;
  }
  for (Link& link : links_) {
    if (link.fd >= 0) close(link.fd);
    link.fd = -1;
  }
}

bool PostcopyReceiver::take(Link& link) {
  uint8_t chunk[64 * 1024];
  ssize_t n = read(link.fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    finish("the source closed the link before every page had come");
    return false;
  }
  link.in.insert(link.in.end(), chunk, chunk + n);
  size_t at = 0;
  while (!link.all_sent && link.in.size() - at >= 4) {
    uint32_t word;
    std::memcpy(&word, link.in.data() + at, 4);
    if (word == kAllSent) {
      link.all_sent = true;
      at += 4;
      break;
    }
    size_t data = (word & kZeroPage) ? 0 : kPage;
    if (link.in.size() - at < 4 + data + 4) break;
    uint32_t sum;
    std::memcpy(&sum, link.in.data() + at + 4 + data, 4);
    if (crc32(link.in.data() + at, 4 + data) != sum) {
      finish("a page from the source fails its checksum");
      return false;
    }
    if (!place(word & ~kZeroPage, data ? link.in.data() + at + 4 : nullptr)) {
      finish("the kernel refused a page copy");
      return false;
    }
    at += 4 + data + 4;
  }
  link.in.erase(link.in.begin(), link.in.begin() + static_cast<ptrdiff_t>(at));
  return true;
}

void PostcopyReceiver::serve() {
  for (;;) {
    // A link that has said all is sent is no longer read (the source then closes it).
    pollfd fds[4] = {{uffd_, POLLIN, 0},
                     {links_[0].all_sent ? -1 : links_[0].fd, POLLIN, 0},
                     {links_[1].all_sent ? -1 : links_[1].fd, POLLIN, 0},
                     {wake_[0], POLLIN, 0}};
    if (poll(fds, wake_[0] >= 0 ? 4 : 3, -1) < 0) {
      if (errno == EINTR) continue;
      return finish("poll failed");
    }
    if (stopping_) return;
    if (fds[0].revents & POLLIN) {
      uffd_msg messages[16];
      ssize_t n = read(uffd_, messages, sizeof messages);
      for (ssize_t i = 0; n > 0 && i < n / static_cast<ssize_t>(sizeof(uffd_msg)); i++) {
        if (messages[i].event != UFFD_EVENT_PAGEFAULT) continue;
        uint64_t page = (messages[i].arg.pagefault.address - reinterpret_cast<uintptr_t>(base_)) / kPage;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          status_.faults++;
        }
        if (page >= requested_.size() || present_[page] || requested_[page] || links_[0].all_sent) continue;
        requested_[page] = 1;
        uint32_t request = static_cast<uint32_t>(page);
        if (!write_all(links_[0].fd, &request, sizeof request)) return finish("the link to the source failed while asking for a page");
      }
    }
    for (int i = 0; i < 2; i++) {
      if ((fds[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) && !take(links_[i])) return;
    }
    if (links_[0].all_sent && links_[1].all_sent) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        status_.done = true;
      }
      return finish("");
    }
  }
}

}  // namespace vmm
