// Imported into every process of a test run by scripts/test.mjs. In the process of one test file
// (the runner sets NODE_TEST_CONTEXT there, and only there), a file still running after
// TEST_FILE_TIMEOUT_SECONDS fails: it names itself and what kept it alive, and exits. The timer is
// unref'd, so it never holds a finished file open, yet it fires while sockets or servers do (a hang
// after the last test, as a client that never stops refreshing causes).
import { relative } from 'node:path';
import { setTimeout } from 'node:timers';

const seconds = Number(process.env.TEST_FILE_TIMEOUT_SECONDS);
if (process.env.NODE_TEST_CONTEXT && seconds > 0) {
  setTimeout(() => {
    const open = new Map();
    for (const resource of process.getActiveResourcesInfo()) open.set(resource, (open.get(resource) ?? 0) + 1);
    const held = [...open].map(([resource, count]) => `${resource} ×${count}`).join(', ');
    process.stderr.write(`${relative(process.cwd(), process.argv[1] ?? '')} still running after ${seconds} s (TEST_FILE_TIMEOUT_SECONDS); open: ${held}\n`);
    process.exit(1);
  }, seconds * 1000).unref();
}
