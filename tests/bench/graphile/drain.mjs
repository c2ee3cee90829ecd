// Baseline for the job-queue bench (tests/bench/src/messaging.rs): graphile-worker
// drains JOBS no-op jobs on the same PostgreSQL as apalis, in its own schema.
// The Rust side parses the last stdout line, so stdout gets exactly one JSON
// line and everything else (our messages, graphile-worker's logs) goes to stderr.
//
//   DATABASE_URL=postgres://... JOBS=20000 CONCURRENCY=32 node drain.mjs
import { EventEmitter } from "node:events";
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { version } from "graphile-worker/dist/version.js";

const TIMEOUT_S = 300;

function fail(code, message) {
  console.error(`drain.mjs: ${message}`);
  process.exit(code);
}

function positiveInt(name) {
  const raw = process.env[name];
  if (!/^[0-9]+$/.test(raw ?? "") || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    fail(2, `${name} must be a positive integer, got ${JSON.stringify(raw ?? null)}`);
  }
  return Number(raw);
}

const connectionString = process.env.DATABASE_URL;
if (!/^postgres(ql)?:\/\//.test(connectionString ?? "")) {
  fail(2, `DATABASE_URL must be a postgres:// URL, got ${JSON.stringify(connectionString ?? null)}`);
}
const jobs = positiveInt("JOBS");
const concurrency = positiveInt("CONCURRENCY");

// graphile-worker 0.16 has no batched fetching or completion: each of the
// CONCURRENCY workers claims one job per query and completes it with another
// (the local queue and `completeJobBatchDelay` arrived in 0.17). The JSON
// says so: batch 1.
const FETCH_BATCH = 1;

// The default logger prints an info line per completed job to stdout, which
// would both break the one-line contract and slow the drain down.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});

// The same work as the Rust no-op: the payload must decode to {n: number}.
const taskList = {
  noop(payload) {
    if (typeof payload?.n !== "number") throw new Error(`payload without a numeric n: ${JSON.stringify(payload)}`);
  },
};

let utils;
try {
  utils = await makeWorkerUtils({ connectionString, logger });
  // Not timed: schema install (a no-op when it is already there) and the jobs.
  await utils.migrate();
  await utils.withPgClient(async (client) => {
    // A run that crashed or timed out leaves its jobs behind; they would be
    // drained (and counted) by this run.
    const { rowCount } = await client.query("DELETE FROM graphile_worker._private_jobs");
    if (rowCount > 0) console.error(`drain.mjs: removed ${rowCount} jobs left by an earlier run`);
    // add_jobs takes every job in one call: one statement, one NOTIFY.
    await client.query(
      `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
         SELECT ROW('noop', json_build_object('n', g), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
         FROM generate_series(1, $1::int) g))`,
      [jobs],
    );
    // Earlier runs leave dead rows that slow every fetch (by a quarter or more
    // after a few runs on one database), and without fresh statistics the
    // fetch query plans worse even on a new database.
    await client.query("VACUUM ANALYZE graphile_worker._private_jobs");
  });

  let done = 0;
  let settle;
  const drained = new Promise((resolve, reject) => (settle = { resolve, reject }));
  drained.catch(() => {}); // may fail while run() is still starting; awaited below
  const events = new EventEmitter();
  // job:success fires before the completion is written to the database;
  // job:complete fires after, so a job counts once it is really gone.
  events.on("job:complete", ({ error }) => !error && ++done === jobs && settle.resolve());
  events.on("job:error", ({ job, error }) => settle.reject(new Error(`job ${job.id} failed: ${error?.message ?? error}`)));
  // graphile-worker retries these after pollInterval (2 s), which would hide
  // the failure inside a slow figure.
  events.on("worker:getJob:error", ({ error }) => settle.reject(new Error(`fetching a job failed: ${error?.message ?? error}`)));
  events.on("worker:fatalError", ({ error }) => settle.reject(new Error(`worker died: ${error?.message ?? error}`)));
  const timer = setTimeout(
    () => settle.reject(new Error(`only ${done} of ${jobs} jobs completed within ${TIMEOUT_S} s`)),
    TIMEOUT_S * 1000,
  );

  const started = performance.now();
  // Each worker takes a pool client per fetch and per completion; the LISTEN
  // connection holds one more for the whole run, so CONCURRENCY + 2 keeps
  // workers from waiting on the pool.
  const runner = await run({ connectionString, concurrency, maxPoolSize: concurrency + 2, logger, events, taskList });
  runner.promise.then(
    () => settle.reject(new Error("the runner stopped before the jobs were done")),
    (error) => settle.reject(error),
  );
  try {
    await drained;
  } finally {
    clearTimeout(timer);
    await runner.stop();
  }
  const seconds = (performance.now() - started) / 1000;

  const left = await utils.withPgClient(async (client) => {
    const { rows } = await client.query("SELECT count(*)::int AS left FROM graphile_worker._private_jobs");
    return rows[0].left;
  });
  if (left !== 0) throw new Error(`${left} jobs still in graphile_worker._private_jobs after the drain`);

  const round = (x, places) => Number(x.toFixed(places));
  console.log(
    JSON.stringify({
      jobs,
      seconds: round(seconds, 3),
      jobs_per_s: round(jobs / seconds, 1),
      concurrency,
      batch: FETCH_BATCH,
      version,
    }),
  );
} catch (error) {
  fail(1, error?.stack ?? String(error));
} finally {
  await utils?.release();
}
