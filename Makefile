# netdl: build, install like a C library, run the demo and the tests.
#
#   make demo                     the demo (loopback server, live progress bars)
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

.PHONY: all build demo test install uninstall clean bench

all: build

build:
	cargo build --release

demo:
	scripts/demo.sh $(ARGS)

test:
	scripts/test.sh

bench:
	bench/run $(ARGS)

install: build
	install -d $(LIBDIR) $(INCDIR) $(LIBDIR)/pkgconfig $(LIBDIR)/cmake/netdl
	install -m 755 $(RELEASE)/libnetdl.so $(LIBDIR)/libnetdl.so.$(VERSION)
	ln -sf libnetdl.so.$(VERSION) $(LIBDIR)/libnetdl.so.$(MAJOR)
	ln -sf libnetdl.so.$(MAJOR) $(LIBDIR)/libnetdl.so
	install -m 644 $(RELEASE)/libnetdl.a $(LIBDIR)/libnetdl.a
	install -m 644 include/netdl.h $(INCDIR)/netdl.h
	install -m 644 bindings/cpp/netdl.hpp $(INCDIR)/netdl.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' pkg/netdl.pc.in \
		> $(LIBDIR)/pkgconfig/netdl.pc
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' pkg/netdlConfig.cmake.in \
		> $(LIBDIR)/cmake/netdl/netdlConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|g' pkg/netdlConfigVersion.cmake.in \
		> $(LIBDIR)/cmake/netdl/netdlConfigVersion.cmake

uninstall:
	rm -f $(LIBDIR)/libnetdl.so $(LIBDIR)/libnetdl.so.$(MAJOR) $(LIBDIR)/libnetdl.so.$(VERSION) \
		$(LIBDIR)/libnetdl.a $(INCDIR)/netdl.h $(INCDIR)/netdl.hpp \
		$(LIBDIR)/pkgconfig/netdl.pc
	rm -rf $(LIBDIR)/cmake/netdl

clean:
	cargo clean
	rm -rf build
