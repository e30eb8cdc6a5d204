import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyCommand } from "../../src/adapters/shared/classify.js";

const ro = (cmd: string) => classifyCommand(cmd).readOnly;

describe("pi adapter: read-only classifier", () => {
  it("accepts plain read-only commands", () => {
    for (const cmd of [
      "ls",
      "ls -la src",
      "cat package.json",
      "head -n 20 README.md",
      "tail -n5 log.txt",
      "wc -l src/*.ts",
      "pwd",
      "echo hello world",
      "stat -c %s file",
      "file dist/cli.js",
      "which node",
      "tree -L 2",
      "rg -n 'TODO|FIXME' src",
      'grep -rn "foo bar" src',
      "find . -name '*.ts' -type f",
      "git status",
      "git status --short",
      "git diff",
      "git diff --stat HEAD~1",
      "git log --oneline -n 10",
      "git show HEAD",
      "git branch",
      "git branch -a -v",
      "git branch --list 'feat/*'",
      "git -C sub status",
      "git --no-pager log -1",
      "git remote -v",
      "git tag -l",
      "  ls  ",
    ]) {
      const c = classifyCommand(cmd);
      assert.equal(c.readOnly, true, `${cmd}: ${c.reason}`);
      assert.match(c.reason, /^Read-only: /);
    }
  });

  it("accepts pipes into read-only filters", () => {
    assert.equal(ro("git log --oneline | head -5"), true);
    assert.equal(ro("cat a.txt | grep foo | sort | uniq -c | wc -l"), true);
    assert.equal(ro("ls -la | tail -n 3"), true);
  });

  it("rejects command separators, background, and conditional chains", () => {
    for (const cmd of ["ls; rm -rf x", "ls && rm x", "ls || true", "ls &", "sleep 1 & ls", "ls\nrm x", "ls\rrm", "ls |& cat"]) {
      assert.equal(ro(cmd), false, cmd);
    }
  });

  it("rejects redirections, here-docs and process substitution", () => {
    for (const cmd of ["echo hi > out.txt", "echo hi >> out.txt", "cat < in.txt", "cat <<EOF\nx\nEOF", "diff <(ls a) <(ls b)", "ls 2>/dev/null", "ls >&2"]) {
      assert.equal(ro(cmd), false, cmd);
    }
    assert.match(classifyCommand("echo hi > out.txt").reason, /redirection/);
  });

  it("rejects substitution and expansion, also inside double quotes", () => {
    for (const cmd of ["echo $(rm -rf /)", "echo `id`", "echo ${HOME}", "echo $HOME", 'echo "$(id)"', 'echo "`id`"', "echo $'a'", "cat $FILE"]) {
      assert.equal(ro(cmd), false, cmd);
    }
    // Literal inside single quotes or escaped: fine.
    assert.equal(ro("echo '$(id)'"), true);
    assert.equal(ro("echo \\$HOME"), true);
    assert.equal(ro('echo "\\$HOME"'), true);
  });

  it("rejects subshells, groups, comments and line continuations", () => {
    for (const cmd of ["(ls)", "{ ls; }", "ls {a,b}", "ls # rm x", "ls \\\n-la", "! ls"]) assert.equal(ro(cmd), false, cmd);
    assert.equal(ro("ls a#b"), true, "a # inside a word is not a comment");
  });

  it("rejects environment assignments, unknown programs and programs by path", () => {
    assert.equal(ro("FOO=1 ls"), false);
    assert.match(classifyCommand("FOO=1 ls").reason, /environment variable/);
    assert.equal(ro("rm -rf build"), false);
    assert.match(classifyCommand("rm -rf build").reason, /`rm` is not a known read-only program/);
    assert.equal(ro("npm test"), false);
    assert.equal(ro("./ls"), false);
    assert.equal(ro("/bin/ls"), false);
    assert.equal(ro("sed -n 1p file"), false);
    assert.equal(ro("awk '{print}' file"), false);
    assert.equal(ro("xargs rm"), false);
    assert.equal(ro(""), false);
    assert.equal(ro("   "), false);
  });

  it("rejects pipes into writers or interpreters", () => {
    for (const cmd of ["ls | tee out", "cat x | sh", "cat x | bash", "ls | xargs rm", "git diff | git apply", "echo hi | python3", "ls |", "| ls"]) {
      assert.equal(ro(cmd), false, cmd);
    }
    assert.match(classifyCommand("ls | tee out").reason, /pipes into `tee`/);
  });

  it("rejects writing or executing options of allowed programs", () => {
    for (const cmd of [
      "find . -delete",
      "find . -name x -exec rm {} ;",
      "find . -execdir ls \\;",
      "find . -fprint out",
      "find * -name x",
      "sort -o out.txt in.txt",
      "sort -uo out.txt in.txt",
      "sort --output=out in",
      "uniq in.txt out.txt",
      "rg --pre cat foo",
      "rg --pre=sh foo",
      "tree -o out.txt",
      "git diff --output=patch.txt",
      "git diff --ext-diff",
      "git grep -Ovim foo",
    ]) {
      assert.equal(ro(cmd), false, cmd);
    }
    assert.match(classifyCommand("find . -delete").reason, /`find -delete` is not read-only/);
  });

  it("git: only read-only subcommands and listing forms", () => {
    for (const cmd of [
      "git push",
      "git commit -m x",
      "git checkout main",
      "git reset --hard",
      "git branch -D main",
      "git branch -d old",
      "git branch -m new",
      "git branch newbranch",
      "git branch --set-upstream-to=origin/main",
      "git tag v1",
      "git tag -d v1",
      "git remote add origin x",
      "git -c core.pager=sh log",
      "git --exec-path=/tmp log",
      "git",
      "git stash list",
    ]) {
      assert.equal(ro(cmd), false, cmd);
    }
    assert.match(classifyCommand("git branch -D main").reason, /changes branches/);
    assert.match(classifyCommand("git push").reason, /`git push` is not read-only/);
  });

  it("handles quoting exactly", () => {
    assert.equal(ro("grep 'a;b' file"), true);
    assert.equal(ro('grep "a|b" file'), true);
    assert.equal(ro("grep a\\;b file"), true);
    assert.equal(ro("grep 'unterminated"), false);
    assert.equal(ro('grep "unterminated'), false);
    assert.equal(ro("ls \\"), false);
    // An option hidden in quotes is still the option.
    assert.equal(ro("find . '-delete'"), false);
    assert.equal(ro("rg '--pre=sh' x"), false);
    // A quoted assignment-looking first word is a program name, not an assignment (and unknown).
    assert.match(classifyCommand("'A=1' ls").reason, /not a known read-only program/);
  });
});
