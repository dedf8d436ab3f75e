/**
 * A small, strict SVG reader for the experiment tests: tags must nest and close, attributes must be
 * quoted, entities must be known. Returns the element tree so tests can look for axes, legends and marks
 * by Vega's class names (role-axis, role-legend-label, role-mark …).
 */
export interface SvgNode {
  tag: string;
  attrs: Record<string, string>;
  children: SvgNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new Error(`svg: unknown entity ${m}`);
    return v;
  });
}

export function parseSvg(src: string): SvgNode {
  const root: SvgNode = { tag: '#root', attrs: {}, children: [], text: '' };
  const stack: SvgNode[] = [root];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|([^<]+)|(<[^>]*>)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src))) {
    if (m[6] !== undefined) {
      if (m[6].startsWith('<?xml') || m[6].startsWith('<!--')) continue;
      throw new Error(`svg: malformed tag ${m[6].slice(0, 60)}`);
    }
    if (m[5] !== undefined) {
      stack[stack.length - 1]!.text += decode(m[5]);
      continue;
    }
    const close = m[1], tag = m[2]!, attrText = m[3] ?? '', selfClose = m[4];
    if (close) {
      const top = stack.pop();
      if (!top || top.tag !== tag) throw new Error(`svg: </${tag}> closes <${top?.tag}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`svg: duplicate attribute ${a[1]} on <${tag}>`);
      attrs[a[1]!] = decode(a[2]!);
    }
    const node: SvgNode = { tag, attrs, children: [], text: '' };
    stack[stack.length - 1]!.children.push(node);
    if (!selfClose) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`svg: <${stack[stack.length - 1]!.tag}> is never closed`);
  if (root.children.length !== 1 || root.children[0]!.tag !== 'svg') throw new Error('svg: expected one <svg> root element');
  return root.children[0]!;
}

export function* walk(n: SvgNode): Generator<SvgNode> {
  yield n;
  for (const c of n.children) yield* walk(c);
}

/** Every element whose class list contains `cls`. */
export function byClass(root: SvgNode, cls: string): SvgNode[] {
  return [...walk(root)].filter((n) => (n.attrs['class'] ?? '').split(/\s+/).includes(cls));
}

/** The text of every <text> element under nodes of class `cls`. */
export function textsIn(root: SvgNode, cls: string): string[] {
  return byClass(root, cls).flatMap((g) => [...walk(g)].filter((n) => n.tag === 'text').map((n) => n.text.trim()));
}
