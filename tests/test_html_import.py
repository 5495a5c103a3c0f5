"""HTML import keeps inline elements inside their sentence; block elements break lines."""

from core.knowledge.ingestion.readers import extract_text

# The shape mandoc gives a Debian man page (group(5)), and a license page's shape: real markup
# with source line breaks inside paragraphs, inline code/links/emphasis, lists and a table.
MAN_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8"/>
  <style>table.head, table.foot { width: 100%; }</style>
  <title>GROUP(5)</title>
</head>
<body>
<table class="head">
  <tr>
    <td class="head-ltitle">GROUP(5)</td>
    <td class="head-vol">File Formats and Configuration Files</td>
  </tr>
</table>
<div class="manual-text">
<section class="Sh">
<h1 class="Sh" id="DESCRIPTION"><a class="permalink" href="#DESCRIPTION">DESCRIPTION</a></h1>
<p class="Pp">The <i>/etc/group</i> file is a text file that defines the groups on the
    system. There is one entry per line, with the following format:</p>
<div class="Bd Pp Bd-indent Li">
<pre>group_name:password:GID:user_list</pre>
</div>
<dl class="Bl-tag">
  <dt><b>group_name</b></dt>
  <dd>It is the name of the group.</dd>
  <dt><b>password</b></dt>
  <dd>It is the (optionally encrypted) password.</dd>
</dl>
</section>
<section class="Sh">
<h1 class="Sh" id="FILES"><a class="permalink" href="#FILES">FILES</a></h1>
<p class="Pp">Account information lives in <code class="Pa">/etc/passwd</code>
    and <code class="Pa">/etc/group</code>.</p>
<p class="Pp">See <a class="Xr" href="gpasswd.5.html">gpasswd(5)</a> for the <span class="No">shadow</span>
<em>group</em> file, and <strong>never</strong> edit it by <b>h</b><i>and</i>.<!-- not shown --></p>
<ul>
  <li>Keep a <tt>backup</tt> copy.</li>
  <li>Use <kbd>vigr</kbd>,<br>not a plain editor.</li>
</ul>
</section>
</div>
</body>
</html>
"""


def test_inline_elements_stay_inside_their_sentence():
    kind, text = extract_text("group.5.html", MAN_PAGE.encode())
    lines = text.splitlines()
    assert kind == "html"
    assert "Account information lives in /etc/passwd and /etc/group." in lines
    assert "See gpasswd(5) for the shadow group file, and never edit it by hand." in lines
    assert ("The /etc/group file is a text file that defines the groups on the system. "
            "There is one entry per line, with the following format:") in lines
    assert "Keep a backup copy." in lines


def test_block_elements_break_lines():
    lines = extract_text("group.5.html", MAN_PAGE.encode())[1].splitlines()
    assert "# DESCRIPTION" in lines and "# FILES" in lines
    assert "group_name:password:GID:user_list" in lines
    assert lines.index("group_name") + 1 == lines.index("It is the name of the group.")
    assert "Use vigr," in lines and "not a plain editor." in lines  # <br> breaks the line
    assert "GROUP(5) File Formats and Configuration Files" in lines  # table cells share their row's line
    assert "not shown" not in lines and not any("width" in line for line in lines)


def test_paragraphs_are_separated_by_one_blank_line():
    text = extract_text("a.html", b"<div><p>One.</p>\n\n<p>Two.</p></div><div>Three.</div><div>Four.</div>")[1]
    assert text == "One.\n\nTwo.\n\nThree.\nFour."


def test_uploaded_html_keeps_the_sentence_in_one_chunk_line(service, kb):
    [result] = service.ingest_files(kb, [("group.5.html", MAN_PAGE.encode())])
    assert result.status == "added"
    doc = service.documents(kb)[0]
    chunks = [c["text"] for c in service.chunks(kb, doc.doc_id)]
    assert any("Account information lives in /etc/passwd and /etc/group." in c for c in chunks)
