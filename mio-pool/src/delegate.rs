//! `delegate_source!`: a wrapper's `mio::event::Source` is its stream's.

/// Implements `mio::event::Source` for a wrapper generic over its stream
/// type `$s` (and maybe more parameters) by delegating to its field
/// `$field`.
macro_rules! delegate_source {
    ([$s:ident $(, $extra:ident)*] $ty:ty => $field:ident) => {
        impl<$s: mio::event::Source $(, $extra)*> mio::event::Source for $ty {
            fn register(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                self.$field.register(registry, token, interests)
            }

            fn reregister(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                self.$field.reregister(registry, token, interests)
            }

            fn deregister(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
                self.$field.deregister(registry)
            }
        }
    };
}
