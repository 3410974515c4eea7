"""Our own lxml baseline, NOT pubmed_parser: the JATS extraction that pubmed_parser's four OA
functions return (parse_pubmed_xml: ids, title, abstract, journal, authors and affiliations, year,
subjects; parse_pubmed_caption: figure id, label, caption, graphic href; parse_pubmed_paragraph:
paragraph text with the references and figures it cites and its section; parse_pubmed_references:
cited title, journal, year, PMID, DOI), written here from those documented outputs so that the
table has a Python/lxml figure measured on this machine beside ours. pubmed_parser itself is not
in this machine's pip index. Each file is parsed once (pubmed_parser parses it once per function).

    python jats_lxml.py --dir DIR [--runs 1]

Prints one JSON line: the timed pass after one warm-up pass, files read into memory first.
"""
import argparse
import json
import sys

from lxml import etree

from timing import read_inputs, timed_passes

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)


def local(tag):
    return tag.rsplit('}', 1)[-1] if isinstance(tag, str) else ''


def text(el):
    return ' '.join(''.join(el.itertext()).split()) if el is not None else ''


def attr(el, name):
    for key, value in el.attrib.items():
        if key == name or key.endswith('}' + name):
            return value
    return ''


# '{*}name' matches the name in any namespace or none, inside lxml's C loops: JATS comes bare,
# in the JATS namespace (OAI-PMH) or wrapped, and xlink:href is namespaced.
def children(el, name):
    return el.findall('{*}' + name)


def descendants(el, name):
    return el.iter('{*}' + name)


def first(el, name):
    return next(el.iter('{*}' + name), None)


def meta(article):
    m = first(article, 'article-meta')
    if m is None:
        return {}
    ids = {attr(i, 'pub-id-type'): (i.text or '').strip() for i in children(m, 'article-id')}
    authors = []
    for contrib in descendants(m, 'contrib'):
        if attr(contrib, 'contrib-type') != 'author':
            continue
        name = first(contrib, 'name')
        rids = [attr(x, 'rid') for x in children(contrib, 'xref') if attr(x, 'ref-type') == 'aff']
        authors.append([text(first(name, 'surname')) if name is not None else '', text(first(name, 'given-names')) if name is not None else '', rids])
    year = first(m, 'pub-date')
    return {
        'pmid': ids.get('pmid', ''), 'pmc': ids.get('pmc', ''), 'doi': ids.get('doi', ''), 'publisher_id': ids.get('publisher-id', ''),
        'full_title': text(first(m, 'article-title')), 'abstract': text(first(m, 'abstract')),
        'journal': text(first(article, 'journal-title')),
        'author_list': authors,
        'affiliation_list': [[attr(a, 'id'), text(a)] for a in descendants(article, 'aff')],
        'publication_year': text(first(year, 'year')) if year is not None else '',
        'subjects': '; '.join(text(s) for s in descendants(m, 'subject')),
    }


def captions(article):
    out = []
    for fig in descendants(article, 'fig'):
        graphic = first(fig, 'graphic')
        out.append({'fig_id': attr(fig, 'id'), 'fig_label': text(first(fig, 'label')), 'fig_caption': text(first(fig, 'caption')),
                    'graphic_ref': attr(graphic, 'href') if graphic is not None else ''})
    return out


def paragraphs(article):
    out = []
    body = first(article, 'body')
    if body is None:
        return out
    for p in descendants(body, 'p'):
        section = ''
        parent = p.getparent()
        while parent is not None:
            if local(parent.tag) == 'sec':
                section = text(first(parent, 'title'))
                break
            parent = parent.getparent()
        xrefs = list(descendants(p, 'xref'))
        out.append({'text': text(p), 'section': section,
                    'reference_ids': [attr(x, 'rid') for x in xrefs if attr(x, 'ref-type') == 'bibr'],
                    'figure_ids': [attr(x, 'rid') for x in xrefs if attr(x, 'ref-type') == 'fig']})
    return out


def references(article):
    out = []
    for ref in descendants(article, 'ref'):
        cite = next(ref.iter('{*}element-citation', '{*}mixed-citation', '{*}citation', '{*}nlm-citation'), None)
        if cite is None:
            continue
        ids = {attr(i, 'pub-id-type'): (i.text or '').strip() for i in descendants(cite, 'pub-id')}
        out.append({'article_title': text(first(cite, 'article-title')), 'journal': text(first(cite, 'source')),
                    'year': text(first(cite, 'year')), 'pmid_cited': ids.get('pmid', ''), 'doi_cited': ids.get('doi', '')})
    return out


def articles_of(root):
    if local(root.tag) == 'article':
        return [root]
    # Wrappers (OAI-PMH envelopes, pmc-articleset, <articles>): their outermost articles.
    found = []
    stack = [root]
    while stack:
        el = stack.pop()
        for c in el:
            if local(c.tag) == 'article':
                found.append(c)
            elif isinstance(c.tag, str):
                stack.append(c)
    return found


def parse(data):
    articles = figures = 0
    for article in articles_of(etree.fromstring(data, PARSER)):
        meta(article)
        figures += len(captions(article))
        paragraphs(article)
        references(article)
        articles += 1
    return {'articles': articles, 'figures': figures}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--runs', type=int, default=1)
    args = ap.parse_args()
    inputs = read_inputs(args.dir, r'\.(nxml|xml)$')
    result = timed_passes(parse, inputs, args.runs)
    print(json.dumps({
        'peer': f'lxml {etree.__version__} (ours in Python)',
        'files': len(inputs), 'mb': round(sum(map(len, inputs)) / 1e6, 1),
        'articlesPerRun': result.get('articles', 0), 'figuresPerRun': result.get('figures', 0), 'failedFilesPerRun': result['failed'],
        'medianSeconds': round(result['seconds'], 3), 'medianCpuSeconds': round(result['cpuSeconds'], 3),
        'articlesPerSecond': round(result.get('articles', 0) / result['seconds']),
    }))


if __name__ == '__main__':
    sys.exit(main())
