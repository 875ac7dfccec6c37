"""The two Java tools the official NLG scorers run: METEOR 1.5 and Stanford's PTB tokenizer.

Both jars ship in the ``pycocoevalcap`` wheel (byte-identical to the ones in tuetschek/e2e-metrics;
see docs/metrics.md). METEOR is driven through pycocoevalcap's own ``Meteor`` wrapper (stdio
mode, ``-l en -norm``), the way e2e-metrics runs it; one JVM is started per Python process and
reused (loading the paraphrase table costs seconds) and closed at exit.

The PTB tokenizer is called with the same command line and post-processing as pycocoevalcap's
``PTBTokenizer`` but its temporary file goes to the system temp dir (pycocoevalcap writes into its
own package directory, which need not be writable).

When Java is missing or fails, ``JavaUnavailable`` carries the reason; callers report the metric as
unavailable, never a substitute.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

JAVA_HINT = "install a Java runtime (>= 8), e.g. 'apt-get install default-jre-headless', and put java on PATH"


class JavaUnavailable(RuntimeError):
    """Java (or a jar it runs) cannot be used; the message says why and how to fix it."""


def _coco_dir() -> Path:
    import pycocoevalcap.meteor.meteor as meteor_mod  # noqa: PLC0415  (namespace package, heavy wheel)

    return Path(meteor_mod.__file__).resolve().parent.parent


def java_path() -> str:
    """Absolute path of the ``java`` executable on PATH, or ``JavaUnavailable`` with a hint."""
    found = shutil.which("java")
    if found is None:
        raise JavaUnavailable(f"java not found on PATH: {JAVA_HINT}")
    return found


_lock = threading.Lock()
_meteor = None  # pycocoevalcap.meteor.meteor.Meteor, started lazily


def close_meteor() -> None:
    """Stop the shared METEOR JVM (about 1.1 GB resident); the next METEOR call starts a new one."""
    global _meteor
    with _lock:
        proc = getattr(_meteor, "meteor_p", None)
        _meteor = None
    if proc is not None and proc.poll() is None:
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.kill()
        proc.wait()


atexit.register(close_meteor)


def _start_meteor():
    from pycocoevalcap.meteor.meteor import Meteor  # noqa: PLC0415

    java_path()
    try:
        return Meteor()
    except OSError as err:
        raise JavaUnavailable(
            f"could not start METEOR 1.5 (java -jar meteor-1.5.jar): {err}; {JAVA_HINT}"
        ) from err


def meteor_score(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus METEOR 1.5 (``-l en -norm``, best reference per segment) of already tokenised text."""
    global _meteor
    gts = {i: list(refs) for i, refs in enumerate(references)}
    res = {i: [hyp] for i, hyp in enumerate(hypotheses)}
    if not gts:
        raise ValueError("METEOR needs at least one segment")
    java_path()  # re-checked on every call: PATH may have changed since the JVM started
    with _lock:
        if _meteor is None or _meteor.meteor_p.poll() is not None:
            _meteor = _start_meteor()
        meteor = _meteor
    try:
        score, _ = meteor.compute_score(gts, res)
    except (ValueError, OSError) as err:  # the JVM died: empty line instead of a score, or broken pipe
        stderr = ""
        proc = meteor.meteor_p
        if proc.poll() is not None and proc.stderr is not None:
            stderr = proc.stderr.read().decode(errors="replace").strip()[-500:]
        close_meteor()
        raise JavaUnavailable(f"METEOR 1.5 process failed ({err}); java said: {stderr or 'nothing'}") from err
    return float(score)


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """Stanford PTBTokenizer 3.4.1 ``-preserveLines -lowerCase`` minus punctuation, one line per input."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS, STANFORD_CORENLP_3_4_1_JAR  # noqa: PLC0415

    java = java_path()
    jar = _coco_dir() / "tokenizer" / STANFORD_CORENLP_3_4_1_JAR
    if not jar.is_file():
        raise JavaUnavailable(f"Stanford CoreNLP jar missing at {jar}: reinstall pycocoevalcap")
    text = "\n".join(s.replace("\n", " ") for s in sentences)
    fd, tmp = tempfile.mkstemp(prefix="lora-repro-ptb-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode())
        cmd = [
            java,
            "-cp",
            str(jar),
            "edu.stanford.nlp.process.PTBTokenizer",
            "-preserveLines",
            "-lowerCase",
            tmp,
        ]
        proc = subprocess.run(cmd, capture_output=True, check=False)
    finally:
        os.remove(tmp)
    if proc.returncode != 0:
        raise JavaUnavailable(f"PTB tokenizer failed (exit {proc.returncode}): {proc.stderr.decode()[-500:]}")
    lines = proc.stdout.decode().split("\n")
    lines += [""] * (len(sentences) - len(lines))  # a trailing empty input line yields no output line
    punct = set(PUNCTUATIONS)
    return [
        " ".join(w for w in line.rstrip().split(" ") if w not in punct) for line in lines[: len(sentences)]
    ]


def check_java() -> str:
    """One line describing the Java found (for ``make setup``), or ``JavaUnavailable`` with a hint."""
    java = java_path()
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise JavaUnavailable(f"{java} -version failed: {proc.stderr.strip()[-300:]}; {JAVA_HINT}")
    version = (proc.stderr or proc.stdout).strip().splitlines()[0]
    return f"java: {java} ({version}): METEOR 1.5 and the PTB tokenizer will run"


if __name__ == "__main__":  # python -m lora_repro.metrics.java  (make setup)
    import sys

    try:
        print(check_java())
    except JavaUnavailable as err:
        print(
            f"warning: {err}. Without it METEOR (and E2E ROUGE_L/CIDEr) are reported unavailable.",
            file=sys.stderr,
        )
        sys.exit(1)
