// A pseudo-terminal for the tests where a person would type (python3's pty module).

/**
 * `python3 -c ANSWERING_PTY ANSWER PROMPT ARGV…`: runs ARGV in a pseudo-terminal, types ANSWER and
 * Enter once PROMPT shows on the screen, prints the whole screen on stdout and exits with ARGV's
 * exit status. Waits at most 20 s for each output.
 */
export const ANSWERING_PTY = `
import os, pty, select, sys
answer, prompt, argv = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent = b'', False
while True:
    ready, _, _ = select.select([fd], [], [], 20)
    if not ready:
        break
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and prompt in out:
        os.write(fd, answer.encode() + b'\\r')
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;
