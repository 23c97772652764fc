// Kubernetes label keys and values, and image references: the patterns the CRD checks (RE2, in
// the API server) and the operator checks (JavaScript), written once so both read the same text.

/** A label name: at most 63 characters, alphanumerics with '-', '_', '.' inside. */
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const DNS_LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';

/** `[prefix/]name`: the prefix a DNS subdomain (its length is checked apart, see below). */
export const LABEL_KEY_PATTERN = `^(${DNS_LABEL}(\\.${DNS_LABEL})*/)?${LABEL_NAME}$`;
/** Empty, or a label name. */
export const LABEL_VALUE_PATTERN = `^(${LABEL_NAME})?$`;
/** A DNS subdomain is at most 253 characters. */
export const MAX_LABEL_PREFIX = 253;
/** prefix, '/', name */
export const MAX_LABEL_KEY = MAX_LABEL_PREFIX + 1 + 63;

const labelKey = new RegExp(LABEL_KEY_PATTERN);
const labelValue = new RegExp(LABEL_VALUE_PATTERN);

export function isLabelKey(k: string): boolean {
  return k.length <= MAX_LABEL_KEY && labelKey.test(k) && k.indexOf('/') <= MAX_LABEL_PREFIX;
}

export function isLabelValue(v: string): boolean {
  return v.length <= 63 && labelValue.test(v);
}

/** The same check as isLabelKey, as CEL over the keys of a map (`self`). */
export const LABEL_KEYS_CEL = `self.all(k, k.size() <= ${MAX_LABEL_KEY} && k.matches('${LABEL_KEY_PATTERN.replace(/\\/g, '\\\\')}') && k.indexOf('/') <= ${MAX_LABEL_PREFIX})`;

/**
 * An image reference as the container runtimes parse it (distribution's reference grammar):
 * `[registry[:port]/]path[:tag][@digest]`. Nothing else: no spaces, quotes, `;`, `$`, `|`, `&`,
 * backticks or other shell metacharacters, which no valid reference holds.
 */
const DOMAIN_COMPONENT = '[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?';
const PATH_COMPONENT = '[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*';
export const IMAGE_PATTERN =
  `^(${DOMAIN_COMPONENT}(\\.${DOMAIN_COMPONENT})*(:[0-9]+)?/)?` +
  `${PATH_COMPONENT}(/${PATH_COMPONENT})*` +
  '(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?' +
  '(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$';
