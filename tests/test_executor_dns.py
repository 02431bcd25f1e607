"""The default executor and name resolution (getaddrinfo/getnameinfo)."""

import asyncio
import concurrent.futures
import socket
import threading
import time

import pytest


# -- run_in_executor ------------------------------------------------------------------------

def test_run_in_executor_runs_in_another_thread(run, loop):
    async def main():
        return await loop.run_in_executor(None, threading.get_ident)
    assert run(main()) != threading.get_ident()


def test_run_in_executor_passes_arguments_and_exceptions(run, loop):
    async def main():
        assert await loop.run_in_executor(None, divmod, 7, 2) == (3, 1)
        with pytest.raises(ZeroDivisionError):
            await loop.run_in_executor(None, divmod, 1, 0)
    run(main())


def test_run_in_executor_with_a_given_executor(run, loop):
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='given') as executor:
        async def main():
            return await loop.run_in_executor(executor, lambda: threading.current_thread().name)
        assert run(main()).startswith('given')


def test_set_default_executor(run, loop):
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='mine')
    loop.set_default_executor(executor)

    async def main():
        return await loop.run_in_executor(None, lambda: threading.current_thread().name)
    assert run(main()).startswith('mine')
    run(loop.shutdown_default_executor())


def test_set_default_executor_refuses_other_executors(loop):
    with pytest.raises(TypeError):
        loop.set_default_executor(object())
    with concurrent.futures.ProcessPoolExecutor(1) as executor:
        with pytest.raises(TypeError):
            loop.set_default_executor(executor)


def test_shutdown_default_executor_waits_for_running_work(run, loop):
    finished = []

    def work():
        time.sleep(0.1)
        finished.append(True)

    async def main():
        loop.run_in_executor(None, work)
        await asyncio.sleep(0.01)
        await loop.shutdown_default_executor()
        return list(finished)
    assert run(main()) == [True]


def test_shutdown_default_executor_timeout(run, loop):
    release = threading.Event()

    async def main():
        loop.run_in_executor(None, release.wait, 5)
        await asyncio.sleep(0.01)
        start = time.monotonic()
        with pytest.warns(RuntimeWarning):
            await loop.shutdown_default_executor(timeout=0.1)
        return time.monotonic() - start
    try:
        assert run(main()) < 1
    finally:
        release.set()


def test_no_default_executor_after_shutdown(run, loop):
    run(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match='shutdown'):
        loop.run_in_executor(None, print)


def test_close_shuts_the_default_executor_down(run, loop):
    async def main():
        await loop.run_in_executor(None, int)
    run(main())
    executor = loop._default_executor
    loop.close()
    with pytest.raises(RuntimeError):
        executor.submit(int)


def test_run_in_executor_on_a_closed_loop(loop):
    loop.close()
    with pytest.raises(RuntimeError, match='closed'):
        loop.run_in_executor(None, print)


# -- name resolution ------------------------------------------------------------------------

def refuse_executor(*args):
    raise AssertionError('a numeric address needs no thread')


@pytest.mark.parametrize('host, family', [('127.0.0.1', socket.AF_INET), ('::1', socket.AF_INET6),
                                          (b'127.0.0.1', socket.AF_INET)])
def test_numeric_hosts_are_answered_without_a_thread(run, loop, monkeypatch, host, family):
    monkeypatch.setattr(loop, 'run_in_executor', refuse_executor)
    infos = run(loop.getaddrinfo(host, 80, type=socket.SOCK_STREAM))
    assert infos == socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)
    assert infos[0][0] == family
    assert run(loop.getaddrinfo(host, '8080', type=socket.SOCK_STREAM))[0][4][1] == 8080


def test_host_names_are_resolved_in_the_executor(run, loop):
    calls = []
    real_run_in_executor = loop.run_in_executor

    def counting_run_in_executor(executor, func, *args):
        calls.append(args[:2])
        return real_run_in_executor(executor, func, *args)
    loop.run_in_executor = counting_run_in_executor
    try:
        infos = run(loop.getaddrinfo('localhost', 80, type=socket.SOCK_STREAM))
    finally:
        del loop.run_in_executor
    assert calls == [('localhost', 80)]
    assert infos == socket.getaddrinfo('localhost', 80, type=socket.SOCK_STREAM)


def test_getaddrinfo_errors_are_those_of_socket(run, loop):
    with pytest.raises(socket.gaierror):
        run(loop.getaddrinfo('no-such-host.invalid', 80))
    with pytest.raises(socket.gaierror):
        run(loop.getaddrinfo('127.0.0.1', 'no-such-service'))


def test_getaddrinfo_in_debug_mode(run, loop):
    loop.set_debug(True)
    infos = run(loop.getaddrinfo('localhost', 80, type=socket.SOCK_STREAM))
    assert infos == socket.getaddrinfo('localhost', 80, type=socket.SOCK_STREAM)


def test_getnameinfo(run, loop):
    assert run(loop.getnameinfo(('127.0.0.1', 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)) \
        == ('127.0.0.1', '80')
    assert run(loop.getnameinfo(('127.0.0.1', 80))) == socket.getnameinfo(('127.0.0.1', 80), 0)


def test_ensure_resolved_keeps_ipv6_scope_and_flowinfo(run, loop):
    infos = run(loop._ensure_resolved(('::1', 80, 3, 0), family=socket.AF_INET6))
    assert infos[0][4] == ('::1', 80, 3, 0)
