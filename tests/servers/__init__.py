"""Private servers for tests that stop, crash, freeze or overload them.

The shared PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are never touched: every
server here is started by the test run on a free port of 127.0.0.1 below 32768, in its own
temporary directory, and stopped and removed again when the test (or session) ends, also when it
fails. As root, PostgreSQL and PgBouncer run as the `postgres` user.

Modules
    ports       free_port(): a free port in 20000-32767, checked by binding.
    postgres    PostgresCluster: initdb'd cluster tuned for tests (fsync off, trust auth,
                wal_level replica). start / stop("fast"|"immediate") / kill() (SIGKILL the
                postmaster: a crash, recovered at the next start) / restart, all on the same
                port; dsn(db), url(db) (postgresql+asyncpg), query(sql, *args), create_database,
                drop_database, terminate_backends(db, application_name=None), standby().
    standby     PostgresStandby: pg_basebackup -R hot standby of a cluster on its own port;
                pause_replay() / resume_replay(), wait_replayed() (up to everything the
                primary committed so far).
    redis       RedisServer: no persistence, optional maxmemory + maxmemory_policy; kill()
                (SIGKILL), pause() (SIGSTOP: connections hang) / resume(), restart() (same
                port, empty), url.
    pgbouncer   PgBouncer before a cluster, pool_mode "transaction" and two server connections
                by default; url(db), dsn(db). asyncpg/SQLAlchemy clients of a transaction-mode
                bouncer need create_async_engine(url, connect_args=pgbouncer.connect_args()).
    nginx       NginxServer: nginx in the foreground, given the text of its http {} block in
                which "{port}" stands for its own port; start / reload(new_text) / stop,
                error_log(), access_log(), url.
    load        LoadGenerator / run_load(): N concurrent aiohttp clients for a bounded duration
                or request count, loopback only; LoadResult answers by_outcome(),
                count_status(), server_errors(), errors(), max_latency(), percentile(),
                first_success_after(), header_values(), between().
    fixtures    The pytest plugin (registered in tests/conftest.py).
    process     What the servers share: private directories, readiness waits, stopping.

Fixtures
    private_pg_cluster   session-scoped cluster, initdb'd once, on first use
    private_pg           the same, started again before and after each test that takes it,
                         whatever the test did to it
    private_pg_database  a fresh database in it for one test (its name), dropped afterwards
    private_pg_standby   a hot standby of it, for one test
    private_redis, redis_factory(maxmemory=..., maxmemory_policy=...)
    private_pgbouncer, pgbouncer_factory(pool_mode=..., pool_size=...)
    nginx_factory(http_config, port=None)

A missing program skips the tests that need it, naming the Debian package (bin/test.sh installs
nginx and pgbouncer with bin/ensure-packages.sh); with CI=true those tests fail instead.

Process control is synchronous and takes up to a second (a PostgreSQL start or stop, a
standby). An async test that keeps traffic flowing meanwhile calls it off the event loop, so
the load's own timeouts are not stretched by a blocked loop:

    async def test_reads_survive_a_restart(private_pg, private_pg_database):
        load = LoadGenerator(url, clients=10, duration=3.0, timeout=0.5)
        task = asyncio.create_task(load.run())
        await load.wait_for_samples(20)
        crash_at = load.elapsed()
        await asyncio.to_thread(private_pg.kill)
        await asyncio.to_thread(private_pg.start)
        result = await task
        assert result.first_success_after(crash_at) is not None
"""
