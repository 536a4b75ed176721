# netdl: build, install like a C library, run the demo and the tests.
#
#   make                          build/lib (libnetdl.so.0.1.0, its .so.0 and .so links,
#                                 libnetdl.a, pkgconfig, cmake) and build/include (netdl.h,
#                                 netdl.hpp): what `make install` lays out, ready to link
#   make demo                     the demo (loopback server, live progress bars)
#   make love-demo                the LÖVE game of examples/love (loopback server, bars, image)
#   make sdl-demo                 the SDL2 game of examples-c/sdl (loopback server, bars, keys)
#   make test                     every test (installs what the tests need)
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make uninstall PREFIX=...

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
LIBDIR  := $(DESTDIR)$(PREFIX)/lib
INCDIR  := $(DESTDIR)$(PREFIX)/include
RELEASE := target/release

.PHONY: all build demo love-demo sdl-demo test install uninstall clean bench

all: build

build:
	cargo build --release
	$(call install_tree,$(CURDIR)/build,$(CURDIR)/build)

demo:
	scripts/demo.sh $(ARGS)

love-demo:
	scripts/love_demo.sh $(ARGS)

sdl-demo:
	scripts/sdl_demo.sh $(ARGS)

test:
	scripts/test.sh

bench:
	bench/run $(ARGS)

install: build
	$(call install_tree,$(DESTDIR)$(PREFIX),$(PREFIX))

# Lays out the release build under $(1) (lib/, include/) as an installed
# library, with $(2) as the prefix written into netdl.pc. Used by `build`
# (into build/) and by `install`.
define install_tree
install -d $(1)/lib $(1)/include $(1)/lib/pkgconfig $(1)/lib/cmake/netdl
install -m 755 $(RELEASE)/libnetdl.so $(1)/lib/libnetdl.so.$(VERSION)
ln -sf libnetdl.so.$(VERSION) $(1)/lib/libnetdl.so.$(MAJOR)
ln -sf libnetdl.so.$(MAJOR) $(1)/lib/libnetdl.so
install -m 644 $(RELEASE)/libnetdl.a $(1)/lib/libnetdl.a
install -m 644 include/netdl.h $(1)/include/netdl.h
install -m 644 bindings/cpp/netdl.hpp $(1)/include/netdl.hpp
sed -e 's|@PREFIX@|$(2)|g' -e 's|@VERSION@|$(VERSION)|g' pkg/netdl.pc.in \
		> $(1)/lib/pkgconfig/netdl.pc
sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' pkg/netdlConfig.cmake.in \
		> $(1)/lib/cmake/netdl/netdlConfig.cmake
sed -e 's|@VERSION@|$(VERSION)|g' pkg/netdlConfigVersion.cmake.in \
		> $(1)/lib/cmake/netdl/netdlConfigVersion.cmake
endef

uninstall:
	rm -f $(LIBDIR)/libnetdl.so $(LIBDIR)/libnetdl.so.$(MAJOR) $(LIBDIR)/libnetdl.so.$(VERSION) \
		$(LIBDIR)/libnetdl.a $(INCDIR)/netdl.h $(INCDIR)/netdl.hpp \
		$(LIBDIR)/pkgconfig/netdl.pc
	rm -rf $(LIBDIR)/cmake/netdl

clean:
	cargo clean
	rm -rf build
