// SPDX-License-Identifier: MIT
// prog_attach_cxx: a multithreaded C++ program started without the profiler,
// for real_attach.sh. Four threads allocate with new and std::string and
// free again until the file argv[1] exists; then it prints a checksum that
// does not depend on timing and exits with status 5.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

static std::atomic<bool> stop{false};

__attribute__((noinline)) static std::unique_ptr<std::vector<long>> cxx_alloc(long i)
{
	return std::make_unique<std::vector<long>>(64 + i % 64, i);
}

static void work(long *out)
{
	std::vector<std::unique_ptr<std::vector<long>>> keep(256);
	long n = 0;
	while (!stop.load()) {
		keep[n % keep.size()] = cxx_alloc(n);
		std::string s(100 + n % 50, 'x');
		n++;
		if (n % 1000 == 0)
			usleep(1000);
	}
	*out = keep.size();
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	long out[4];
	std::vector<std::thread> t;
	for (int i = 0; i < 4; i++)
		t.emplace_back(work, &out[i]);
	std::printf("ready\n");
	std::fflush(stdout);
	while (access(argv[1], F_OK) != 0)
		usleep(5000);
	stop = true;
	for (auto &x : t)
		x.join();
	std::printf("done %ld\n", out[0] + out[1] + out[2] + out[3]);
	return 5;
}
