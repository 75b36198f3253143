// rtnetlink numbers from <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>,
// <linux/if_addr.h>, <linux/neighbour.h>. Only what cni-ts uses. Const enums: the bundler puts
// the numbers in place (as objects, every call would build them at start); the two mode tables
// looked up by a config's string stay objects.
export const NETLINK_ROUTE = 0;

export const enum NLMSG { NOOP = 1, ERROR = 2, DONE = 3 }
export const enum NLM_F {
  REQUEST = 0x1, MULTI = 0x2, ACK = 0x4, ECHO = 0x8, DUMP_INTR = 0x10,
  ROOT = 0x100, MATCH = 0x200, DUMP = 0x300,
  REPLACE = 0x100, EXCL = 0x200, CREATE = 0x400, APPEND = 0x800,
}

export const enum RTM {
  NEWLINK = 16, DELLINK = 17, GETLINK = 18, SETLINK = 19,
  NEWADDR = 20, DELADDR = 21, GETADDR = 22,
  NEWROUTE = 24, DELROUTE = 25, GETROUTE = 26,
  NEWNEIGH = 28, DELNEIGH = 29, GETNEIGH = 30,
}

export const enum AF { UNSPEC = 0, INET = 2, BRIDGE = 7, INET6 = 10 }

export const enum IFF { UP = 0x1, BROADCAST = 0x2, LOOPBACK = 0x8, POINTOPOINT = 0x10, RUNNING = 0x40, NOARP = 0x80, PROMISC = 0x100, ALLMULTI = 0x200, MULTICAST = 0x1000, LOWER_UP = 0x10000 }

export const enum IFLA {
  ADDRESS = 1, BROADCAST = 2, IFNAME = 3, MTU = 4, LINK = 5, QDISC = 6, STATS = 7, MASTER = 10,
  TXQLEN = 13, OPERSTATE = 16, LINKMODE = 17, LINKINFO = 18, NET_NS_PID = 19, IFALIAS = 20,
  AF_SPEC = 26, GROUP = 27, NET_NS_FD = 28, EXT_MASK = 29, PROMISCUITY = 30, NUM_TX_QUEUES = 31,
  NUM_RX_QUEUES = 32, CARRIER = 33, LINK_NETNSID = 37, PROTO_DOWN = 39, NEW_NETNSID = 45,
  MIN_MTU = 50, MAX_MTU = 51, ALT_IFNAME = 53, PERM_ADDRESS = 54, ALLMULTI = 61,
}

/** IFLA_AF_SPEC's AF_INET part: the interface's IPv4 settings (net/ipv4/conf/<if>/...), by IPV4_DEVCONF_* index. */
export const IFLA_INET_CONF = 1;
export const enum IPV4_DEVCONF { ARP_NOTIFY = 22 }
/** IFLA_AF_SPEC's AF_INET6 part: how the interface makes its IPv6 addresses (IN6_ADDR_GEN_MODE_*). */
export const IFLA_INET6_ADDR_GEN_MODE = 8;
export const IN6_ADDR_GEN_MODE = { eui64: 0, none: 1, stable_privacy: 2, random: 3 } as const;

export const enum IFLA_INFO { KIND = 1, DATA = 2, XSTATS = 3, SLAVE_KIND = 4, SLAVE_DATA = 5 }
export const VETH_INFO_PEER = 1;
export const enum IFLA_MACVLAN { MODE = 1, FLAGS = 2, BC_QUEUE_LEN = 7 }
export const MACVLAN_MODE = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const;
export const enum IFLA_IPVLAN { MODE = 1, FLAGS = 2 }
export const IPVLAN_MODE = { l2: 0, l3: 1, l3s: 2 } as const;
export const enum IFLA_VLAN { ID = 1, FLAGS = 2, PROTOCOL = 5 }
export const enum IFLA_VXLAN {
  ID = 1, GROUP = 2, LINK = 3, LOCAL = 4, TTL = 5, TOS = 6, LEARNING = 7, AGEING = 8, LIMIT = 9,
  PORT_RANGE = 10, PROXY = 11, RSC = 12, L2MISS = 13, L3MISS = 14, PORT = 15, GROUP6 = 16, LOCAL6 = 17,
}
export const enum IFLA_BR { FORWARD_DELAY = 1, HELLO_TIME = 2, MAX_AGE = 3, AGEING_TIME = 4, STP_STATE = 5, PRIORITY = 6, VLAN_FILTERING = 7 }
export const enum IFLA_BRPORT { STATE = 1, PRIORITY = 2, COST = 3, MODE = 4, GUARD = 5, PROTECT = 6, FAST_LEAVE = 7, LEARNING = 8, UNICAST_FLOOD = 9, ISOLATED = 33 }

export const enum IFA { ADDRESS = 1, LOCAL = 2, LABEL = 3, BROADCAST = 4, ANYCAST = 5, CACHEINFO = 6, MULTICAST = 7, FLAGS = 8 }
export const enum IFA_F {
  SECONDARY = 0x1, NODAD = 0x2, OPTIMISTIC = 0x4, DADFAILED = 0x8, HOMEADDRESS = 0x10,
  DEPRECATED = 0x20, TENTATIVE = 0x40, PERMANENT = 0x80, MANAGETEMPADDR = 0x100, NOPREFIXROUTE = 0x200,
}

export const enum RTA {
  DST = 1, SRC = 2, IIF = 3, OIF = 4, GATEWAY = 5, PRIORITY = 6, PREFSRC = 7, METRICS = 8,
  MULTIPATH = 9, FLOW = 11, CACHEINFO = 12, TABLE = 15, MARK = 16, MFC_STATS = 17, VIA = 18, PREF = 20,
}
export const enum RTAX { MTU = 2, ADVMSS = 8 }
export const enum RTN { UNSPEC = 0, UNICAST = 1, LOCAL = 2, BROADCAST = 3, ANYCAST = 4, MULTICAST = 5, BLACKHOLE = 6, UNREACHABLE = 7 }
export const enum RTPROT { UNSPEC = 0, KERNEL = 2, BOOT = 3, STATIC = 4 }
export const enum RT_SCOPE { UNIVERSE = 0, SITE = 200, LINK = 253, HOST = 254, NOWHERE = 255 }
export const enum RT_TABLE { UNSPEC = 0, MAIN = 254, LOCAL = 255 }
export const RTNH_F_ONLINK = 0x4;

export const enum NDA { DST = 1, LLADDR = 2, CACHEINFO = 3, PROBES = 4, VLAN = 5, PORT = 6, VNI = 7, IFINDEX = 8, MASTER = 9 }
export const enum NUD { INCOMPLETE = 0x1, REACHABLE = 0x2, STALE = 0x4, DELAY = 0x8, PROBE = 0x10, FAILED = 0x20, NOARP = 0x40, PERMANENT = 0x80 }
export const enum NTF { USE = 0x1, SELF = 0x2, MASTER = 0x4, PROXY = 0x8, EXT_LEARNED = 0x10 }

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
export const NLMSGERR_ATTR_MSG = 1;
