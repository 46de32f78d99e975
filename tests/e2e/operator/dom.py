#!/usr/bin/env python3
"""dom.py FILE: the tables of the operator page (a DOM dumped by Chromium or
the page as served) as tab-separated lines, one per body row:

    SECTION-ID <TAB> TBODY-ID <TAB> CELL <TAB> CELL ...

and one line per section with a data-count attribute:

    @count <TAB> SECTION-ID <TAB> VALUE
"""
import sys
from html.parser import HTMLParser


class Tables(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.section = "-"
        self.tbody = None
        self.row = None
        self.cell = None
        self.out = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id", "-")
            if "data-count" in a:
                self.out.append("@count\t%s\t%s" % (self.section, a["data-count"]))
        elif tag == "tbody":
            self.tbody = a.get("id", "-")
        elif tag == "tr" and self.tbody is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append("".join(self.cell).strip().replace("\t", " "))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.out.append("\t".join([self.section, self.tbody] + self.row))
            self.row = None
        elif tag == "tbody":
            self.tbody = None
        elif tag == "section":
            self.section = "-"

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        p = Tables()
        p.feed(f.read())
        p.close()
    print("\n".join(p.out))


if __name__ == "__main__":
    main()
