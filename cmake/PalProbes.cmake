# Probe OS features into pal_config.h instead of guessing them.
include(CheckIncludeFile)
include(CheckSymbolExists)
include(CheckFunctionExists)

set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE)
check_include_file(sys/epoll.h   PAL_HAVE_EPOLL)
check_include_file(sys/event.h   PAL_HAVE_KQUEUE)
check_include_file(valgrind/valgrind.h PAL_HAVE_VALGRIND_H)
check_symbol_exists(eventfd      sys/eventfd.h  PAL_HAVE_EVENTFD)
check_symbol_exists(signalfd     sys/signalfd.h PAL_HAVE_SIGNALFD)
check_symbol_exists(pidfd_open   sys/pidfd.h    PAL_HAVE_PIDFD_OPEN)
check_symbol_exists(SYS_pidfd_open sys/syscall.h PAL_HAVE_SYS_PIDFD_OPEN)
check_symbol_exists(CLONE_PIDFD  sched.h        PAL_HAVE_CLONE_PIDFD)
check_symbol_exists(clone        sched.h        PAL_HAVE_CLONE)
check_symbol_exists(posix_spawn  spawn.h        PAL_HAVE_POSIX_SPAWN)
check_symbol_exists(accept4      sys/socket.h   PAL_HAVE_ACCEPT4)
check_symbol_exists(pipe2        unistd.h       PAL_HAVE_PIPE2)
check_symbol_exists(SOCK_CLOEXEC sys/socket.h   PAL_HAVE_SOCK_CLOEXEC)
check_symbol_exists(SO_PEERCRED  sys/socket.h   PAL_HAVE_SO_PEERCRED)
check_symbol_exists(SCM_CREDENTIALS sys/socket.h PAL_HAVE_SCM_CREDENTIALS)
check_symbol_exists(getpeereid   unistd.h       PAL_HAVE_GETPEEREID)
check_symbol_exists(PR_SET_PDEATHSIG sys/prctl.h PAL_HAVE_PDEATHSIG)
check_symbol_exists(PR_SET_CHILD_SUBREAPER sys/prctl.h PAL_HAVE_SUBREAPER)
check_symbol_exists(MSG_NOSIGNAL sys/socket.h   PAL_HAVE_MSG_NOSIGNAL)
check_symbol_exists(waitid       sys/wait.h     PAL_HAVE_WAITID)
check_symbol_exists(P_PIDFD      sys/wait.h     PAL_HAVE_P_PIDFD)
check_symbol_exists(memfd_create sys/mman.h     PAL_HAVE_MEMFD_CREATE)
check_symbol_exists(F_ADD_SEALS  fcntl.h        PAL_HAVE_F_ADD_SEALS)
# io_uring through raw system calls: the uapi header must know
# provided-buffer rings (Linux 5.19 headers); the kernel is asked at run
# time (pal/posix/poll_uring.c).
include(CheckCSourceCompiles)
check_c_source_compiles("
#include <linux/io_uring.h>
#include <sys/syscall.h>
int main(void) {
  struct io_uring_buf_reg reg = {0};
  struct io_uring_getevents_arg arg = {0};
  return (int)reg.bgid + (int)arg.sigmask_sz + IORING_REGISTER_PBUF_RING +
         IORING_OP_RECV + IORING_SETUP_COOP_TASKRUN + __NR_io_uring_setup;
}" PAL_HAVE_IO_URING)
unset(CMAKE_REQUIRED_DEFINITIONS)

configure_file(${CMAKE_CURRENT_LIST_DIR}/pal_config.h.in
               ${CMAKE_BINARY_DIR}/pal/pal_config.h)
