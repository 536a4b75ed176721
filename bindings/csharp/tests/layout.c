/* Prints the layout of netdl.h's structs as the C compiler makes it, one
 * line each: "STRUCT sizeof N" and "STRUCT FIELD OFFSET". The C# tests
 * compare it with Marshal.SizeOf / Marshal.OffsetOf of NetDl.cs's mirrors,
 * whose fields carry the header's names (arrays as reserved0, reserved1...,
 * and reserved24_0, reserved24_1...). */
#include <stdio.h>

#include "netdl.h"

#define SIZE(T) printf(#T " sizeof %zu\n", sizeof(T))
#define FIELD(T, f) printf(#T " " #f " %zu\n", offsetof(T, f))
#define ELEM(T, f, i) printf(#T " " #f #i " %zu\n", offsetof(T, f[i]))
#define COUNT(T, f) (sizeof(((T *)0)->f) / sizeof(((T *)0)->f[0]))

/* The mirrors spell out reserved[] element by element: a header whose
 * arrays change length must change them too. */
_Static_assert(COUNT(net_params, reserved) == 5, "net_params.reserved changed: update NetDl.cs and this file");
_Static_assert(COUNT(net_event, reserved) == 5, "net_event.reserved changed: update NetDl.cs and this file");
_Static_assert(COUNT(net_options, reserved24) == 3, "net_options.reserved24 changed: update NetDl.cs and this file");

int main(void) {
    SIZE(net_header);
    FIELD(net_header, name);
    FIELD(net_header, value);

    SIZE(net_options);
    FIELD(net_options, size);
    FIELD(net_options, max_retries);
    FIELD(net_options, retry_delay_ms);
    FIELD(net_options, retry_max_delay_ms);
    FIELD(net_options, expected_size);
    FIELD(net_options, sha256);
    FIELD(net_options, mirrors);
    FIELD(net_options, mirror_count);
    FIELD(net_options, proxy);
    FIELD(net_options, compress);
    FIELD(net_options, keep_partial);
    FIELD(net_options, if_changed);
    FIELD(net_options, reserved8);
    FIELD(net_options, segments);
    FIELD(net_options, priority);
    FIELD(net_options, persist);
    for (size_t i = 0; i < COUNT(net_options, reserved24); i++)
        printf("net_options reserved24_%zu %zu\n", i, offsetof(net_options, reserved24) + i);
    FIELD(net_options, max_speed);
    FIELD(net_options, tag);

    SIZE(net_params);
    FIELD(net_params, headers);
    FIELD(net_params, header_count);
    FIELD(net_params, body);
    FIELD(net_params, body_len);
    FIELD(net_params, timeout);
    FIELD(net_params, progress);
    FIELD(net_params, user_data);
    FIELD(net_params, body_type);
    FIELD(net_params, body_file);
    FIELD(net_params, body_file_dir);
    FIELD(net_params, no_redirects);
    FIELD(net_params, max_redirects);
    FIELD(net_params, ca_file);
    FIELD(net_params, max_body);
    FIELD(net_params, queue);
    FIELD(net_params, progress_of);
    FIELD(net_params, reserved32);
    FIELD(net_params, options);
    for (size_t i = 0; i < COUNT(net_params, reserved); i++)
        printf("net_params reserved%zu %zu\n", i, offsetof(net_params, reserved) + i * sizeof(uint64_t));

    SIZE(net_event);
    FIELD(net_event, id);
    FIELD(net_event, user_data);
    FIELD(net_event, phase);
    FIELD(net_event, is_error);
    FIELD(net_event, error_code);
    FIELD(net_event, error);
    FIELD(net_event, status);
    FIELD(net_event, bytes_transferred);
    FIELD(net_event, bytes_estimated);
    FIELD(net_event, url);
    FIELD(net_event, headers);
    FIELD(net_event, header_count);
    FIELD(net_event, path);
    FIELD(net_event, body);
    FIELD(net_event, body_len);
    FIELD(net_event, response_type);
    FIELD(net_event, base_dir);
    FIELD(net_event, filename);
    FIELD(net_event, attempt);
    FIELD(net_event, flags);
    FIELD(net_event, bytes_received);
    FIELD(net_event, tag);
    for (size_t i = 0; i < COUNT(net_event, reserved); i++)
        printf("net_event reserved%zu %zu\n", i, offsetof(net_event, reserved) + i * sizeof(uint64_t));
    return 0;
}
